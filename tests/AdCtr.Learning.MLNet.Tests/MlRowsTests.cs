using Microsoft.ML;
using Microsoft.ML.Data;

namespace AdCtr.Learning.MLNet.Tests;

public sealed class MlRowsTests
{
    [Fact]
    public void Add_UnsortedWithRepeats_StoresSortedAndSummedPerColumn()
    {
        var rows = new MlRows(2);
        rows.Add([1, 0, 1, 0], [7, 3, 2, 3], [1f, 2f, 4f, 0.5f], label: true, weight: 2f);

        Assert.Equal([3], rows.Indices(0, 0).ToArray());
        Assert.Equal([2.5f], rows.Values(0, 0).ToArray());
        Assert.Equal([2, 7], rows.Indices(0, 1).ToArray());
        Assert.Equal([4f, 1f], rows.Values(0, 1).ToArray());
        Assert.True(rows.Label(0));
        Assert.Equal(2f, rows.Weight(0));
        Assert.Equal(3, rows.NonZeros);
    }

    [Fact]
    public void AsDataView_ReadThroughMlNetCursor_GivesTheStoredRows()
    {
        var rows = new MlRows();
        rows.Add(default, [5, 1], [1f, 3f], label: false, weight: 1f);
        rows.Add(default, [0], [2f], label: true, weight: 0.5f);
        var view = rows.AsDataView([8]);

        var ml = new MLContext(1);
        var labels = ml.Data.CreateEnumerable<Row>(view, reuseRowObject: false).ToArray();

        Assert.Equal(2, labels.Length);
        Assert.False(labels[0].Label);
        Assert.Equal([0f, 3f, 0f, 0f, 0f, 1f, 0f, 0f], labels[0].Features);
        Assert.True(labels[1].Label);
        Assert.Equal(0.5f, labels[1].Weight);
        Assert.Equal([2f, 0f, 0f, 0f, 0f, 0f, 0f, 0f], labels[1].Features);
    }

    [Fact]
    public void AsDataView_IndexBeyondColumnSize_Throws()
    {
        var rows = new MlRows();
        rows.Add(default, [9], [1f], label: true);
        Assert.Throws<ArgumentException>(() => rows.AsDataView([4]));
    }

    private sealed class Row
    {
        public bool Label { get; set; }

        public float Weight { get; set; }

        [VectorType(8)]
        public float[] Features { get; set; } = [];
    }
}
