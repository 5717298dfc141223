using AdCtr.Learning.Batch;

namespace AdCtr.Learning.MLNet.Tests;

public sealed class MlNetLogisticTrainerTests
{
    private const double L2 = 5;

    [Fact]
    public void Train_SameObjectiveAsMathNetTrainer_ReachesTheSameMinimum()
    {
        var data = new SyntheticData(seed: 7).Dataset(20_000);
        var mathNet = new BatchLogisticTrainer(new BatchTrainerOptions { L2 = L2, BiasIndex = SyntheticData.BiasIndex, MaxIterations = 200, GradientTolerance = 1e-8 })
            .Train(data);
        var ml = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = L2, MaxIterations = 200 }).Train(data, SyntheticData.BiasIndex);

        var reference = SyntheticData.Objective(data, mathNet.Weights, SyntheticData.BiasIndex, L2);
        var objective = SyntheticData.Objective(data, ml.Weights, SyntheticData.BiasIndex, L2);

        // Both minimise the same strictly convex objective: the minima agree to the optimisers' tolerances
        // (a relative 1e-5 of ~7,000 nats), and so do the weights.
        Assert.InRange(objective, reference - (1e-5 * reference), reference + (1e-5 * reference));
        for (var j = 0; j < 1 + (4 * 6); j++)
        {
            Assert.InRange(ml.Weights[j], mathNet.Weights[j] - 0.01f, mathNet.Weights[j] + 0.01f);
        }

        Assert.Equal(24, ml.ActiveFeatures);
    }

    [Fact]
    public void Train_WarmStartAtTheOptimum_OneIterationStaysThereWhileColdStartDoesNot()
    {
        var data = new SyntheticData(seed: 11).Dataset(10_000);
        var optimum = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = L2, MaxIterations = 200 }).Train(data, SyntheticData.BiasIndex);
        var oneStep = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = L2, MaxIterations = 1 });

        var warm = oneStep.Train(data, SyntheticData.BiasIndex, optimum.Weights);
        var cold = oneStep.Train(data, SyntheticData.BiasIndex);

        var best = SyntheticData.Objective(data, optimum.Weights, SyntheticData.BiasIndex, L2);
        var fromWarm = SyntheticData.Objective(data, warm.Weights, SyntheticData.BiasIndex, L2);
        var fromCold = SyntheticData.Objective(data, cold.Weights, SyntheticData.BiasIndex, L2);

        // Started at the minimum, one iteration cannot leave it by more than rounding; from zero it is far off
        // (the zero model's loss is n ln 2 = 6,931 against a minimum well below).
        Assert.InRange(fromWarm, best - 1e-3 * best, best + 1e-3 * best);
        Assert.True(fromCold > best * 1.01, $"cold {fromCold} vs best {best}");
        Assert.Equal(optimum.Weights[SyntheticData.BiasIndex], warm.Weights[SyntheticData.BiasIndex], 2);
    }

    [Fact]
    public void Train_EmptyData_ReturnsTheWarmStart()
    {
        var data = new SparseDataset(16);
        var warm = new float[16];
        warm[3] = 0.5f;
        var model = new MlNetLogisticTrainer().Train(data, 0, warm);
        Assert.Equal(0.5f, model.Weights[3]);
        Assert.Equal(0, model.ActiveFeatures);
    }
}
