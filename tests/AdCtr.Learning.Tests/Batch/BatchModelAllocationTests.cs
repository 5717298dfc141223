using AdCtr.Learning.Batch;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.Tests.Batch;

public class BatchModelAllocationTests
{
    [Fact]
    public void Predict_ManyCalls_AllocatesNothing()
    {
        // Allocation budget checked without BenchmarkDotNet: 0 bytes on this thread over 10,000 predictions.
        var data = new SparseDataset(1 << 22);
        data.Add([1, 4_000_000], [1f, 0.5f], 1);
        data.Add([1, 7], [1f, 2f], 0);
        var model = new BatchLogisticTrainer().Train(data);
        ReadOnlySpan<int> idx = [1, 7, 4_000_000];
        ReadOnlySpan<float> val = [1f, 0.25f, -1f];
        var sink = model.Predict(idx, val);

        var allocated = Allocations.Fewest(3, () =>
        {
            ReadOnlySpan<int> idx = [1, 7, 4_000_000];
            ReadOnlySpan<float> val = [1f, 0.25f, -1f];
            for (var i = 0; i < 10_000; i++)
            {
                sink += model.Predict(idx, val) + model.PredictLogit(idx, val);
            }
        });

        Assert.Equal(0, allocated);
        Assert.True(double.IsFinite(sink));
    }
}
