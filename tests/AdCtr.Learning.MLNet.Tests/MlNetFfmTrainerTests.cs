namespace AdCtr.Learning.MLNet.Tests;

public sealed class MlNetFfmTrainerTests
{
    [Fact]
    public void Train_LearnsTheWorld_BetterThanTheBaseRate()
    {
        var world = new SyntheticData(seed: 5);
        var model = new MlNetFfmTrainer().Train(world.Table(20_000));
        var test = world.Table(5000);
        var logits = new double[test.Count];
        model.PredictLogits(test, logits);
        double loss = 0, baseLoss = 0, clicks = 0;
        for (var r = 0; r < test.Count; r++)
        {
            clicks += test.Label(r) ? 1 : 0;
        }

        var ctr = clicks / test.Count;
        for (var r = 0; r < test.Count; r++)
        {
            var p = 1 / (1 + Math.Exp(-logits[r]));
            var y = test.Label(r);
            loss -= Math.Log(y ? p : 1 - p);
            baseLoss -= Math.Log(y ? ctr : 1 - ctr);
        }

        // The world's effects are strong (sd 0.7 per field plus an interaction): a working model beats the base
        // rate by far more than 5 %.
        Assert.True(loss < 0.95 * baseLoss, $"FFM {loss / test.Count} vs base rate {baseLoss / test.Count}");
    }

    [Fact]
    public void PredictLogits_UnknownValues_ScoreLikeMissingOnes()
    {
        var world = new SyntheticData(seed: 9);
        var model = new MlNetFfmTrainer(new MlNetFfmOptions { Iterations = 1 }).Train(world.Table(2000));
        var table = new FieldTable(world.Fields);
        var unknown = new uint[world.Fields];
        Array.Fill(unknown, 999_999u);
        var ones = new float[world.Fields];
        Array.Fill(ones, 1f);
        table.Add(new uint[world.Fields], ones, false);
        table.Add(unknown, ones, false);
        var logits = new double[2];
        model.PredictLogits(table, logits);
        Assert.Equal(logits[0], logits[1]);
    }
}
