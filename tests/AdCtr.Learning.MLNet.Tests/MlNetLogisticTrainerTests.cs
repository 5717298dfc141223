using AdCtr.Learning.Batch;

namespace AdCtr.Learning.MLNet.Tests;

public sealed class MlNetLogisticTrainerTests
{
    private const double L2 = 5;

    [Fact]
    public void Train_ReachesTheMinimumOfTheL2LogisticObjective()
    {
        var data = new SyntheticData(seed: 7).Dataset(20_000);
        var model = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = L2, MaxIterations = 200 }).Train(data, SyntheticData.BiasIndex);

        // At the minimum of sum_i logloss_i + 0.5 L2 ||w||^2 (bias not penalised) the gradient is 0: every
        // coordinate's gradient, divided by the number of rows (ML.NET's scale), is below 1e-3 (its stopping
        // rule is on the objective's relative improvement, 1e-7, so the gradient is small but not 0).
        var gradient = new double[1 << SyntheticData.Bits];
        for (var r = 0; r < data.Rows; r++)
        {
            var p = model.Predict(data.RowIndices(r), data.RowValues(r));
            var idx = data.RowIndices(r);
            var val = data.RowValues(r);
            for (var k = 0; k < idx.Length; k++)
            {
                gradient[idx[k]] += (p - data.Label(r)) * val[k];
            }
        }

        for (var j = 0; j < gradient.Length; j++)
        {
            var g = (gradient[j] + (j == SyntheticData.BiasIndex ? 0 : L2 * model.Weights[j])) / data.Rows;
            Assert.True(Math.Abs(g) < 1e-3, $"coordinate {j}: gradient {g}");
        }

        Assert.Equal(24, model.ActiveFeatures);

        // The objective is lower than at nearby points (each weight moved by +-0.05).
        var best = SyntheticData.Objective(data, model.Weights, SyntheticData.BiasIndex, L2);
        for (var j = 0; j < 25; j++)
        {
            foreach (var step in new[] { -0.05f, 0.05f })
            {
                var moved = (float[])model.Weights.Clone();
                moved[j] += step;
                Assert.True(SyntheticData.Objective(data, moved, SyntheticData.BiasIndex, L2) > best);
            }
        }
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
