using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using AdCtr.Learning.Tests.Support;
using Xunit.Abstractions;

namespace AdCtr.Learning.Tests.Models;

public class GlmixLearningTests(ITestOutputHelper output)
{
    private static readonly FtrlParameters Global = new(Alpha: 0.1, Beta: 1.0, L1: 0.1, L2: 1.0);
    private static readonly FtrlParameters Campaign = new(Alpha: 0.1, Beta: 1.0, L1: 0.1, L2: 5.0);

    private sealed record Result(double ModelLogLoss, double OracleLogLoss, double CalibrationRatio);

    /// <summary>Online pass: learn <paramref name="train"/> examples, then score the next
    /// <paramref name="holdout"/> before learning each (progressive holdout).</summary>
    private static Result Run(FeatureSpec spec, SyntheticWorld world, int train, int holdout)
    {
        var model = new GlmixModel(spec.Bits, Global, Campaign);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        for (var i = 0; i < train; i++)
        {
            world.Next(row);
            encoder.Encode(row, x);
            model.Learn(x, row.Label);
        }

        double loss = 0, oracle = 0, predicted = 0, clicks = 0;
        for (var i = 0; i < holdout; i++)
        {
            var truth = world.Next(row);
            encoder.Encode(row, x);
            var p = model.Learn(x, row.Label);
            loss += SyntheticWorld.LogLoss(p, row.Label);
            oracle += SyntheticWorld.LogLoss(truth, row.Label);
            predicted += p;
            clicks += row.Label;
        }

        return new Result(loss / holdout, oracle / holdout, predicted / clicks);
    }

    [Fact]
    public void Online_200kExamplesWithDeclaredCross_IsWithin2PercentOfOracle()
    {
        var result = Run(SyntheticWorld.Spec(withCross: true, withCampaign: false), new SyntheticWorld(42), 200_000, 50_000);
        output.WriteLine($"model {result.ModelLogLoss:F5} oracle {result.OracleLogLoss:F5} ratio {result.ModelLogLoss / result.OracleLogLoss:F4} calibration {result.CalibrationRatio:F4}");

        Assert.InRange(result.ModelLogLoss / result.OracleLogLoss, 0.97, 1.02);
        Assert.InRange(result.CalibrationRatio, 0.97, 1.03);
    }

    [Fact]
    public void Online_DeclaredCross_BeatsTheSameModelWithoutIt()
    {
        var with = Run(SyntheticWorld.Spec(withCross: true, withCampaign: false), new SyntheticWorld(7), 200_000, 50_000);
        var without = Run(SyntheticWorld.Spec(withCross: false, withCampaign: false), new SyntheticWorld(7), 200_000, 50_000);

        output.WriteLine($"with {with.ModelLogLoss:F5} without {without.ModelLogLoss:F5}");
        // The a x b interaction has sd 0.8 on the logit; a model without the cross cannot represent it and
        // loses several percent of log loss (measured 8% with seed 7); we require at least 2%.
        Assert.True(without.ModelLogLoss > with.ModelLogLoss * 1.02, $"with {with.ModelLogLoss:F5}, without {without.ModelLogLoss:F5}");
    }

    [Fact]
    public void Glmix_CampaignWithDistinctBehaviour_IsLearnedByItsCampaignPart()
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: true);
        var world = new SyntheticWorld(9, specialEffect: 1.5);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var glmix = new GlmixModel(spec.Bits, Global, Campaign);
        var globalOnly = new GlmixModel(spec.Bits, Global, Campaign);
        var noCampaign = new EncodedExample();
        for (var i = 0; i < 150_000; i++)
        {
            world.Next(row, i % 4 == 0 ? SyntheticWorld.SpecialCampaign : null);
            encoder.Encode(row, x);
            glmix.Learn(x, row.Label);
            noCampaign.Global.CopyFrom(x.Global);
            globalOnly.Learn(noCampaign, row.Label);
        }

        double lossGlmix = 0, lossGlobal = 0;
        const int Holdout = 20_000;
        for (var i = 0; i < Holdout; i++)
        {
            world.Next(row, SyntheticWorld.SpecialCampaign);
            encoder.Encode(row, x);
            noCampaign.Global.CopyFrom(x.Global);
            lossGlmix += SyntheticWorld.LogLoss(glmix.Predict(x), row.Label);
            lossGlobal += SyntheticWorld.LogLoss(globalOnly.Predict(noCampaign), row.Label);
        }

        output.WriteLine($"glmix {lossGlmix / Holdout:F5} global only {lossGlobal / Holdout:F5}");
        // The special campaign adds +-1.5 to the logit depending on a: only a campaign part can learn it.
        Assert.True(lossGlmix < lossGlobal * 0.95, $"glmix {lossGlmix / Holdout:F5}, global only {lossGlobal / Holdout:F5}");
        var special = glmix.CampaignOf(FeatureEncoder.CampaignKeyOf("k0"u8));
        Assert.NotNull(special);
        Assert.True(special.Coordinates > 0);
    }

    [Fact]
    public void Glmix_UnseenCampaign_GetsTheGlobalPrediction()
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: true);
        var world = new SyntheticWorld(5);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var model = new GlmixModel(spec.Bits, Global, Campaign);
        for (var i = 0; i < 5_000; i++)
        {
            world.Next(row);
            encoder.Encode(row, x);
            model.Learn(x, row.Label);
        }

        world.Next(row, "k0");
        row.Set(0, "never-seen".AsSpan());
        encoder.Encode(row, x);
        var expected = Glmix.Sigmoid(model.Global.Dot(x.Global.Indices, x.Global.Values));
        Assert.True(x.HasCampaign);
        Assert.Equal(expected, model.Predict(x));
        Assert.Equal(30, model.Campaigns.Count);
    }

    [Fact]
    public void Learn_AfterWarmUp_AllocatesNothing()
    {
        var spec = SyntheticWorld.Spec(withCross: true, withCampaign: true);
        var world = new SyntheticWorld(5);
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var model = new GlmixModel(spec.Bits, Global, Campaign);
        world.Next(row, "k1");
        encoder.Encode(row, x);
        model.Learn(x, 1);
        var allocated = Allocations.Fewest(3, () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                model.Learn(x, i % 2);
                model.Predict(x);
            }
        });

        Assert.Equal(0, allocated);
    }
}
