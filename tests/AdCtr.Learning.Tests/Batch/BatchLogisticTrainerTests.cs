using AdCtr.Learning.Batch;
using Xunit.Abstractions;

namespace AdCtr.Learning.Tests.Batch;

public class BatchLogisticTrainerTests
{
    private readonly ITestOutputHelper _output;

    public BatchLogisticTrainerTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Train_DataFromKnownLogisticModel_ReachesOracleLogLossWithSmallGradient()
    {
        var world = new SyntheticLogistic(features: 50, seed: 7);
        var (train, trainTrueP) = world.Draw(20_000, seed: 11);
        var (test, testTrueP) = world.Draw(20_000, seed: 13);
        var options = new BatchTrainerOptions { BiasIndex = SyntheticLogistic.BiasIndex };

        var model = new BatchLogisticTrainer(options).Train(train);

        var trainLoss = SyntheticLogistic.LogLoss(train, r => model.Predict(train.RowIndices(r), train.RowValues(r)));
        var trainOracle = SyntheticLogistic.LogLoss(train, r => trainTrueP[r]);
        var testLoss = SyntheticLogistic.LogLoss(test, r => model.Predict(test.RowIndices(r), test.RowValues(r)));
        var testOracle = SyntheticLogistic.LogLoss(test, r => testTrueP[r]);
        var gradient = SyntheticLogistic.GradientNorm(train, model.Weights, options.L2, options.BiasIndex);
        _output.WriteLine(
            $"iterations {model.Iterations}, evaluations {model.Evaluations}, {model.Seconds:F3} s, reason {model.StopReason}, " +
            $"train {trainLoss:F5} vs oracle {trainOracle:F5}, test {testLoss:F5} vs oracle {testOracle:F5}, " +
            $"|g| reported {model.GradientNorm:E2} recomputed {gradient:E2}");

        Assert.True(model.Converged);
        Assert.Equal(51, model.ActiveFeatures);
        // Maximum likelihood with d = 51 parameters and n = 20,000 rows: in sample the fit beats the oracle by
        // chi2_d / (2n), mean d / (2n) = 0.0013 nats, standard deviation sqrt(2d) / (2n) = 0.00025; out of
        // sample it trails by about the same mean. The oracle loss is ~0.34, so 1% is 0.0034 nats, over 8
        // standard deviations beyond the expected gap. The L2 of 1 against n = 20,000 is negligible.
        Assert.InRange(trainLoss, trainOracle * 0.99, trainOracle * 1.01);
        Assert.InRange(testLoss, testOracle * 0.99, testOracle * 1.01);
        // The trainer stops at gradient norm <= 1e-6 (mean-loss scale, in doubles). Rounding the weights to
        // float moves each by <= 2^-24 |w| (< 2e-7 here); the Hessian of the mean loss has norm below 1 for
        // these features, so the recomputed gradient grows by at most ~1e-6 * sqrt(51): bound 1e-5.
        Assert.True(model.GradientNorm <= options.GradientTolerance);
        Assert.True(gradient < 1e-5, $"gradient norm {gradient}");
    }

    [Fact]
    public void Train_WarmStartFromSolution_ConvergesInAtMostTwoIterations()
    {
        var world = new SyntheticLogistic(features: 50, seed: 7);
        var (train, _) = world.Draw(20_000, seed: 11);
        var trainer = new BatchLogisticTrainer(new BatchTrainerOptions { BiasIndex = SyntheticLogistic.BiasIndex });
        var cold = trainer.Train(train);

        var warm = trainer.Train(train, cold.Weights);
        _output.WriteLine($"cold {cold.Iterations} iterations, warm {warm.Iterations} iterations, {warm.Evaluations} evaluations");

        Assert.True(warm.Converged);
        // The solution rounded to float has a gradient within ~1e-6 of the tolerance: one short line search
        // at most (usually none), against about ten iterations from zero.
        Assert.InRange(warm.Iterations, 0, 2);
        Assert.True(cold.Iterations >= 5);
        Assert.Equal(cold.FinalObjective, warm.FinalObjective, 1e-6 * cold.FinalObjective);
    }

    [Fact]
    public void Train_BiasOnly_RecoversLogitOfClickRate()
    {
        // 30 clicks in 100 rows on a single unregularised bias: the optimum is sigmoid(b) = 0.3 exactly, and the
        // gradient criterion |p - 0.3| <= 1e-6 bounds the error.
        var data = new SparseDataset(8);
        for (var r = 0; r < 100; r++)
        {
            data.Add([5], [1f], r < 30 ? 1 : 0);
        }

        var model = new BatchLogisticTrainer(new BatchTrainerOptions { BiasIndex = 5 }).Train(data);

        Assert.True(model.Converged);
        Assert.Equal(0.3, model.Predict([5], [1f]), 1e-6);
        Assert.Equal(0f, model.Weights[4]);
    }

    [Fact]
    public void Train_RegularisedSingleFeature_MatchesClosedFormStationaryPoint()
    {
        // One regularised weight w, 10 rows x = 1: 4 clicks. Stationarity: 10 sigmoid(w) - 4 + L2 w = 0 with
        // L2 = 5. The trainer's solution must satisfy it to the gradient tolerance times the weight 10.
        var data = new SparseDataset(3);
        for (var r = 0; r < 10; r++)
        {
            data.Add([1], [1f], r < 4 ? 1 : 0);
        }

        var model = new BatchLogisticTrainer(new BatchTrainerOptions { L2 = 5 }).Train(data);
        var w = (double)model.Weights[1];

        Assert.True(model.Converged);
        Assert.Equal(0, 10 * SyntheticLogistic.Sigmoid(w) - 4 + 5 * w, 1e-4);
        // A true shrinkage: the unregularised answer logit(0.4) = -0.405 is further from 0.
        Assert.InRange(w, -0.405, -0.01);
    }

    [Fact]
    public void Train_OneClassOnly_DoesNotThrowAndPredictsLow()
    {
        var data = new SparseDataset(1 << 20);
        var rng = new Random(3);
        for (var r = 0; r < 500; r++)
        {
            data.Add([0, 1 + rng.Next(20)], [1f, 1f], 0);
        }

        foreach (var options in new[]
                 {
                     new BatchTrainerOptions(),
                     new BatchTrainerOptions { BiasIndex = 0 },
                     new BatchTrainerOptions { L2 = 0 },
                 })
        {
            var model = new BatchLogisticTrainer(options).Train(data);
            _output.WriteLine($"L2 {options.L2} bias {options.BiasIndex}: {model.StopReason}, {model.Iterations} iterations");

            foreach (var w in model.Weights)
            {
                Assert.True(float.IsFinite(w));
            }

            Assert.True(model.Predict([0, 1], [1f, 1f]) < 0.5);
        }
    }

    [Fact]
    public void Train_IterationBudgetTooSmall_ReturnsBestPointNotConverged()
    {
        var world = new SyntheticLogistic(features: 50, seed: 7);
        var (train, _) = world.Draw(5_000, seed: 17);
        var initial = new BatchLogisticTrainer().Train(new SparseDataset(SyntheticLogistic.Dimension));

        var model = new BatchLogisticTrainer(new BatchTrainerOptions { MaxIterations = 3 }).Train(train);

        Assert.False(model.Converged);
        Assert.Equal(BatchStopReason.MaximumIterations, model.StopReason);
        Assert.InRange(model.Iterations, 1, 3);
        // The best point is better than the starting point w = 0 (objective n ln 2).
        Assert.True(model.FinalObjective < train.WeightSum * Math.Log(2));
        Assert.Equal(BatchStopReason.NothingToLearn, initial.StopReason);
    }

    [Fact]
    public void Train_EmptyDataset_ReturnsZeroModel()
    {
        var model = new BatchLogisticTrainer().Train(new SparseDataset(16));

        Assert.True(model.Converged);
        Assert.Equal(16, model.Weights.Length);
        Assert.All(model.Weights, w => Assert.Equal(0f, w));
        Assert.Equal(0.5, model.Predict([3], [2f]));
    }

    [Fact]
    public void Train_OnePartitionOrTwo_SameSolution()
    {
        var world = new SyntheticLogistic(features: 20, seed: 5);
        var (train, _) = world.Draw(10_000, seed: 19);

        var one = new BatchLogisticTrainer(new BatchTrainerOptions { MaxDegreeOfParallelism = 1 }).Train(train);
        var two = new BatchLogisticTrainer(new BatchTrainerOptions { MaxDegreeOfParallelism = 2 }).Train(train);

        // Both converge to the gradient tolerance 1e-6 of a strictly convex objective whose Hessian (mean
        // scale) has its smallest eigenvalue well above 1e-2 here, so weights agree to ~1e-4.
        for (var j = 0; j < one.Weights.Length; j++)
        {
            Assert.Equal(one.Weights[j], two.Weights[j], 1e-3f);
        }
    }

    [Fact]
    public void Train_CancelledToken_Throws()
    {
        var data = new SparseDataset(4);
        data.Add([1], [1f], 1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.Throws<OperationCanceledException>(() => new BatchLogisticTrainer().Train(data, default, cts.Token));
    }

    [Fact]
    public void Train_WarmStartWrongLength_Throws()
    {
        var data = new SparseDataset(4);
        data.Add([1], [1f], 1);

        Assert.Throws<ArgumentException>(() => new BatchLogisticTrainer().Train(data, new float[3]));
    }

    [Fact]
    public void Options_Invalid_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLogisticTrainer(new BatchTrainerOptions { L2 = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLogisticTrainer(new BatchTrainerOptions { MaxIterations = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLogisticTrainer(new BatchTrainerOptions { Memory = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLogisticTrainer(new BatchTrainerOptions { GradientTolerance = 0 }));
    }
}
