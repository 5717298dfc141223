using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Ftrl;

public class FtrlModelTests
{
    private static readonly FtrlParameters P = new(Alpha: 0.1, Beta: 1.0, L1: 0.2, L2: 0.5);

    /// <summary>McMahan et al. 2013, Algorithm 1, written plainly in double precision as the reference.</summary>
    private sealed class ReferenceFtrl(FtrlParameters p)
    {
        public readonly Dictionary<int, (double Z, double N)> State = [];

        public double Weight(int i)
        {
            var (z, n) = State.GetValueOrDefault(i);
            return Math.Abs(z) <= p.L1 ? 0 : -(z - (Math.Sign(z) * p.L1)) / (((p.Beta + Math.Sqrt(n)) / p.Alpha) + p.L2);
        }

        public double Learn(int[] idx, float[] x, int y, double c)
        {
            var w = idx.Select(Weight).ToArray();
            var logit = 0.0;
            for (var k = 0; k < idx.Length; k++)
            {
                logit += w[k] * x[k];
            }

            var prob = 1 / (1 + Math.Exp(-logit));
            for (var k = 0; k < idx.Length; k++)
            {
                var g = c * (prob - y) * x[k];
                var (z, n) = State.GetValueOrDefault(idx[k]);
                var sigma = (Math.Sqrt(n + (g * g)) - Math.Sqrt(n)) / p.Alpha;
                State[idx[k]] = (z + g - (sigma * w[k]), n + (g * g));
            }

            return prob;
        }
    }

    private static (int[] Idx, float[] X, int Y, float C)[] Stream(int count, ulong seed)
    {
        var rng = new TestRandom(seed);
        var result = new (int[], float[], int, float)[count];
        for (var e = 0; e < count; e++)
        {
            var k = 1 + rng.Next(6);
            var idx = new HashSet<int>();
            while (idx.Count < k)
            {
                idx.Add(rng.Next(40));
            }

            var x = new float[k];
            for (var j = 0; j < k; j++)
            {
                x[j] = rng.Next(4) == 0 ? (float)(rng.NextDouble() * 3) : 1f;
            }

            result[e] = (idx.ToArray(), x, rng.NextDouble() < 0.3 ? 1 : 0, rng.Next(5) == 0 ? 2.5f : 1f);
        }

        return result;
    }

    private static double Learn(IFtrlModel model, int[] idx, float[] x, int y, float c)
    {
        var w = new float[idx.Length];
        var prob = 1 / (1 + Math.Exp(-model.Dot(idx, x, w)));
        model.Update(idx, x, w, (float)(c * (prob - y)));
        return prob;
    }

    [Fact]
    public void DenseAndSparse_SameStream_MatchTheReferenceAlgorithm()
    {
        var reference = new ReferenceFtrl(P);
        var dense = new DenseFtrlModel(10, P);
        var sparse = new SparseFtrlModel(P, initialCapacity: 8);
        foreach (var (idx, x, y, c) in Stream(5000, 11))
        {
            var expected = reference.Learn(idx, x, y, c);
            // float state vs double reference: predictions agree to ~1e-4 after thousands of steps.
            Assert.Equal(expected, Learn(dense, idx, x, y, c), 3e-4);
            Assert.Equal(expected, Learn(sparse, idx, x, y, c), 3e-4);
        }

        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(reference.Weight(i), dense.WeightOf(i), 1e-3);
            // Both storages run the same float arithmetic in the same order: bit-identical.
            Assert.Equal(dense.WeightOf(i), sparse.WeightOf(i));
        }

        Assert.Equal(40, sparse.Coordinates);
        Assert.Equal(40, dense.Coordinates);
    }

    [Fact]
    public void Weight_ZWithinL1_IsExactlyZero()
    {
        // A single tiny gradient leaves |z| below L1 = 0.2, so the weight stays exactly 0 (sparsity).
        var model = new DenseFtrlModel(4, P);
        model.Update([3], [1f], [0f], 0.1f);
        Assert.True(model.TryGetState(3, out var z, out var n));
        Assert.Equal(0.1f, z);
        Assert.Equal(0.01f, n, 6);
        Assert.Equal(0f, model.WeightOf(3));
    }

    [Fact]
    public void Dot_WithoutUpdate_NeverChangesState()
    {
        var model = new SparseFtrlModel(P);
        model.Dot([1, 2, 3], [1f, 1f, 1f], new float[3]);
        model.Dot([1, 2, 3], [1f, 1f, 1f]);
        Assert.Equal(0, model.Coordinates);
    }

    [Fact]
    public void Sparse_ManyCoordinates_GrowsAndKeepsEveryState()
    {
        var model = new SparseFtrlModel(P, initialCapacity: 8);
        for (var i = 0; i < 10_000; i++)
        {
            model.SetState(i * 7919 & ((1 << 28) - 1), i, i + 1);
        }

        Assert.Equal(10_000, model.Coordinates);
        // Doubling at 70% load: 10,000 / 0.7 = 14,286 needs 16,384 slots.
        Assert.Equal(16_384, model.Capacity);
        Assert.Equal(16_384 * 12, model.MemoryBytes);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(model.TryGetState(i * 7919 & ((1 << 28) - 1), out var z, out var n));
            Assert.Equal(i, z);
            Assert.Equal(i + 1, n);
        }
    }

    [Fact]
    public void Sparse_AdmissionProbability_AdmitsAboutThatFraction()
    {
        var model = new SparseFtrlModel(P, admissionProbability: 0.25, seed: 5);
        const int Offered = 20_000;
        for (var i = 0; i < Offered; i++)
        {
            model.Update([i], [1f], [0f], 0.5f);
        }

        // Binomial(20000, 0.25): mean 5000, sd 61; 5 sd = 306.
        Assert.InRange(model.Coordinates, 5000 - 306, 5000 + 306);
        Assert.Equal(Offered, model.Coordinates + model.Rejected);
    }

    [Theory]
    [InlineData(0.0, 1.0, 0.0, 0.0)]
    [InlineData(0.1, -1.0, 0.0, 0.0)]
    [InlineData(0.1, 1.0, -1.0, 0.0)]
    [InlineData(0.1, 1.0, 0.0, double.NaN)]
    public void Parameters_Invalid_AreRejected(double alpha, double beta, double l1, double l2)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DenseFtrlModel(4, new FtrlParameters(alpha, beta, l1, l2)));
    }

    /// <summary>
    /// The dense dot product runs eight coordinates at a time (gathers + vector sqrt/division) where AVX2
    /// exists. For every length 0..70 (full vectors and every tail) and states that include z exactly at
    /// +-L1, z = 0, n = 0 and large n, each weight it reports must be bit-identical to the scalar
    /// <see cref="DenseFtrlModel.WeightOf"/>, the prediction-only overload must return exactly the same
    /// sum as the one that keeps the weights, and the sum must equal a sequential double sum of the same
    /// float products up to summation order: 40 terms of size &lt;= 1 in double differ by at most
    /// about 40 * 2^-52 relative, so 1e-12 absolute is a loose but failing-capable bound (a single wrong
    /// lane moves the sum by the size of a weight, at least 1e-4 here).
    /// </summary>
    [Fact]
    public void DenseDot_EveryLengthAndEdgeState_MatchesScalarWeightsExactly()
    {
        var p = new FtrlParameters(Alpha: 0.1, Beta: 1.0, L1: 0.25, L2: 0.5);
        var model = new DenseFtrlModel(10, p);
        var rng = new Random(20261121);
        float[] specialZ = [0f, 0.25f, -0.25f, 0.2500001f, -0.2500001f, 3f, -7.5f];
        for (var i = 0; i < model.Dimension; i++)
        {
            var z = i % 3 == 0 ? specialZ[rng.Next(specialZ.Length)] : (float)((rng.NextDouble() * 8) - 4);
            var n = i % 5 == 0 ? 0f : (float)(rng.NextDouble() * 1000);
            model.SetState(i, z, n);
        }

        for (var length = 0; length <= 70; length++)
        {
            var indices = new int[length];
            var values = new float[length];
            for (var k = 0; k < length; k++)
            {
                // Some indices above the dimension: the model masks them, and so must the gathers.
                indices[k] = rng.Next(0, 3 * model.Dimension);
                values[k] = k % 4 == 0 ? 1f : (float)rng.NextDouble();
            }

            var weights = new float[length];
            var withWeights = model.Dot(indices, values, weights);
            var withoutWeights = model.Dot(indices, values);
            var sequential = 0.0;
            for (var k = 0; k < length; k++)
            {
                var expected = model.WeightOf(indices[k]);
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(weights[k]));
                sequential += expected * values[k];
            }

            Assert.Equal(withWeights, withoutWeights);
            Assert.InRange(withWeights - sequential, -1e-12, 1e-12);
        }
    }
}
