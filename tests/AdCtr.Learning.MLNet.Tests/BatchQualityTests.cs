using AdCtr.Learning.Features;
using AdCtr.Learning.Tests.Support;
using Xunit.Abstractions;

namespace AdCtr.Learning.MLNet.Tests;

/// <summary>The batch logistic regression on the Learning tests' synthetic world (moved here with the trainer).</summary>
public sealed class BatchQualityTests(ITestOutputHelper output)
{
    [Fact]
    public void Batch_200kExamplesWithDeclaredCross_IsWithin1PercentOfOracle()
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: false);
        var world = new SyntheticWorld(42);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var data = new AdCtr.Learning.Batch.SparseDataset(1 << spec.Bits);
        for (var i = 0; i < 200_000; i++)
        {
            world.Next(row);
            encoder.Encode(row, x);
            data.Add(x.Global.Indices, x.Global.Values, (int)row.Label, 1f);
        }

        var model = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = 1.0 }).Train(data, encoder.BiasIndex);
        double loss = 0, oracle = 0, predicted = 0, clicks = 0;
        const int Holdout = 50_000;
        for (var i = 0; i < Holdout; i++)
        {
            var truth = world.Next(row);
            encoder.Encode(row, x);
            var p = model.Predict(x.Global.Indices, x.Global.Values);
            loss += SyntheticWorld.LogLoss(p, row.Label);
            oracle += SyntheticWorld.LogLoss(truth, row.Label);
            predicted += p;
            clicks += row.Label;
        }

        output.WriteLine($"batch {loss / Holdout:F5} oracle {oracle / Holdout:F5} ratio {loss / oracle:F4} calibration {predicted / clicks:F4}");
        Assert.InRange(loss / oracle, 0.98, 1.01);
        Assert.InRange(predicted / clicks, 0.97, 1.03);
    }
}
