using AdCtr.Learning.Ftrl;

namespace AdCtr.Learning.Tests.Ftrl;

/// <summary>The dense model's (vectorised) update against the sequential per-coordinate FTRL update.</summary>
public class DenseUpdateTests
{
    /// <summary>The sequential update, coordinate by coordinate, with <see cref="FtrlMath.Update"/> on the model's state.</summary>
    private static void SequentialUpdate(DenseFtrlModel model, FtrlParameters p, int[] indices, float[] values, float[] weights, float g)
    {
        var math = new FtrlMath(p);
        for (var k = 0; k < indices.Length; k++)
        {
            model.TryGetState(indices[k], out var z, out var n);
            math.Update(ref z, ref n, g * values[k], weights[k]);
            model.SetState(indices[k], z, n);
        }
    }

    private static void AssertSameState(DenseFtrlModel expected, DenseFtrlModel actual)
    {
        for (var i = 0; i < expected.Dimension; i++)
        {
            expected.TryGetState(i, out var ez, out var en);
            actual.TryGetState(i, out var az, out var an);
            Assert.Equal(BitConverter.SingleToInt32Bits(ez), BitConverter.SingleToInt32Bits(az));
            Assert.Equal(BitConverter.SingleToInt32Bits(en), BitConverter.SingleToInt32Bits(an));
        }
    }

    [Fact]
    public void Update_EveryLengthWithRepeatedSlots_BitIdenticalToSequentialUpdate()
    {
        var p = new FtrlParameters(Alpha: 0.195, Beta: 1.0, L1: 0.151, L2: 0.555);
        var rng = new Random(20261202);
        var model = new DenseFtrlModel(8, p);
        for (var i = 0; i < model.Dimension; i++)
        {
            model.SetState(i, (float)((rng.NextDouble() * 8) - 4), i % 5 == 0 ? 0f : (float)(rng.NextDouble() * 100));
        }

        var reference = new DenseFtrlModel(8, p);
        reference.CopyFrom(model);
        for (var trial = 0; trial < 400; trial++)
        {
            var length = trial % 71;
            var indices = new int[length];
            var values = new float[length];
            var weights = new float[length];
            for (var k = 0; k < length; k++)
            {
                // A table of 256 slots and indices up to 3x that (masked): many slots repeat, within a group of
                // eight lanes and across groups; every third trial draws from 12 slots only.
                indices[k] = trial % 3 == 0 ? rng.Next(0, 12) * 37 : rng.Next(0, 3 * model.Dimension);
                values[k] = k % 4 == 0 ? 1f : (float)rng.NextDouble();
                weights[k] = (float)((rng.NextDouble() * 2) - 1);
            }

            var g = (float)((rng.NextDouble() * 2) - 1);
            model.Update(indices, values, weights, g);
            SequentialUpdate(reference, p, indices, values, weights, g);
            AssertSameState(reference, model);
        }
    }

    [Fact]
    public void Update_LearnerSizedExamples_BitIdenticalToSequentialUpdate()
    {
        // 40 distinct-ish coordinates in a 2^22 table, as the Criteo spec gives, repeatedly (predict, then update).
        var p = FtrlParameters.GlobalDefault;
        var model = new DenseFtrlModel(22, p);
        var reference = new DenseFtrlModel(22, p);
        var rng = new Random(7);
        var weights = new float[40];
        var values = new float[40];
        values.AsSpan().Fill(1f);
        for (var example = 0; example < 2000; example++)
        {
            var indices = new int[40];
            for (var k = 0; k < indices.Length; k++)
            {
                indices[k] = rng.Next(0, 1 << 12) * 1021;
            }

            model.Dot(indices, values, weights);
            var g = (float)(rng.NextDouble() - (example % 3 == 0 ? 1 : 0));
            model.Update(indices, values, weights, g);
            SequentialUpdate(reference, p, indices, values, weights, g);
        }

        AssertSameState(reference, model);
    }
}
