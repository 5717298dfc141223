using AdCtr.Learning.Batch;

namespace AdCtr.Learning.Tests.Batch;

public class SparseDatasetTests
{
    [Fact]
    public void Add_Rows_AreReadBackInCsrOrder()
    {
        var data = new SparseDataset(1 << 22);
        data.Add([4_000_000, 7], [0.5f, -2f], 1, 2f);
        data.Add([], [], 0);
        data.Add([3], [1f], 0, 0.25f);

        Assert.Equal(3, data.Rows);
        Assert.Equal(3, data.NonZeros);
        Assert.Equal(3.25, data.WeightSum);   // 2 + default 1 + 0.25
        Assert.Equal([4_000_000, 7], data.RowIndices(0).ToArray());
        Assert.Equal([0.5f, -2f], data.RowValues(0).ToArray());
        Assert.Equal(0, data.RowIndices(1).Length);
        Assert.Equal(1, data.Label(0));
        Assert.Equal(0.25f, data.Weight(2));
    }

    [Theory]
    [InlineData(16, 1f, 1, 1f)]
    [InlineData(-1, 1f, 1, 1f)]
    [InlineData(2, float.NaN, 1, 1f)]
    [InlineData(2, 1f, 2, 1f)]
    [InlineData(2, 1f, 1, -1f)]
    public void Add_InvalidRow_Throws(int index, float value, int label, float weight)
    {
        var data = new SparseDataset(16);

        Assert.Throws<ArgumentOutOfRangeException>(() => data.Add([index], [value], label, weight));
        Assert.Equal(0, data.Rows);
    }

    [Fact]
    public void Add_LengthMismatch_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SparseDataset(16).Add([1, 2], [1f], 0));
    }

    [Fact]
    public void RowIndices_MissingRow_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SparseDataset(16).RowIndices(0));
    }
}
