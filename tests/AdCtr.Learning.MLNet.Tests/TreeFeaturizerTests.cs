using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace AdCtr.Learning.MLNet.Tests;

public sealed class TreeFeaturizerTests
{
    [Fact]
    public void LeafOf_EqualsMlNetsPretrainedTreeFeaturizer()
    {
        var world = new SyntheticData(seed: 21);
        var train = world.Table(5000);
        var numeric = new bool[world.Fields];
        var trees = new TreeFeaturizer(new TreeFeaturizerOptions { Trees = 5, Leaves = 8, MinExamplesPerLeaf = 20 }).Train(train, numeric, generation: 1);

        var test = world.Table(300);
        var view = TreeFeaturizer.BuildRows(test, trees.Layout).AsDataView([Math.Max(trees.Layout.Inputs, 1)]);
        var ml = new MLContext(1);
        var featurizer = ml.Transforms.FeaturizeByPretrainTreeEnsemble(new PretrainedTreeFeaturizationEstimator.Options
        {
            InputColumnName = MlRows.ColumnName(0),
            ModelParameters = trees.Model,
            LeavesColumnName = "Leaves",
        });
        // GetColumn reuses one buffer for every row: copy each row out before the next.
        var leaves = featurizer.Fit(view).Transform(view).GetColumn<VBuffer<float>>("Leaves").Select(v => v.DenseValues().ToArray()).ToArray();

        var inputs = new float[trees.Layout.Inputs];
        for (var r = 0; r < test.Count; r++)
        {
            trees.Layout.Fill(test.Keys(r), test.Values(r), inputs);
            var dense = leaves[r];
            var offset = 0;
            for (var t = 0; t < trees.Trees; t++)
            {
                var expected = -1;
                for (var l = 0; l < trees.LeafCounts[t]; l++)
                {
                    if (dense[offset + l] != 0)
                    {
                        expected = l;
                    }
                }

                Assert.Equal(expected, trees.LeafOf(t, inputs));
                offset += trees.LeafCounts[t];
            }
        }
    }

    [Fact]
    public void Layout_CountsAreNumbersSmallCategoricalsOneHotLargeOnesLeftOut()
    {
        var table = new FieldTable(3);
        for (var r = 0; r < 50; r++)
        {
            // Field 0: a count; field 1: 3 values; field 2: 50 distinct values.
            table.Add([r % 7 == 0 ? 0u : 5u, (uint)(10 + (r % 3)), (uint)(100 + r)], [r, 1, 1], r % 2 == 0);
        }

        var layout = TreeInputLayout.Build(table, [true, false, false], maxCardinality: 4);
        Assert.Equal(1 + 3, layout.Inputs);
        Assert.Equal(2, layout.FieldsUsed);

        var inputs = new float[layout.Inputs];
        layout.Fill([5u, 11u, 123u], [42f, 1f, 1f], inputs);
        Assert.Equal([42f, 0f, 1f, 0f], inputs);
        layout.Fill([0u, 99u, 100u], [0f, 1f, 1f], inputs);
        Assert.Equal([-1f, 0f, 0f, 0f], inputs);
    }

    [Fact]
    public void LeafFeature_DependsOnGenerationTreeAndLeaf_AndFitsTheBits()
    {
        var seen = new HashSet<int>();
        for (var g = 0; g < 3; g++)
        {
            for (var t = 0; t < 20; t++)
            {
                for (var l = 0; l < 16; l++)
                {
                    var index = TreeEnsemble.LeafFeature(1, g, t, l, 22);
                    Assert.InRange(index, 0, (1 << 22) - 1);
                    Assert.Equal(index, TreeEnsemble.LeafFeature(1, g, t, l, 22));
                    seen.Add(index);
                }
            }
        }

        // 960 keys in 2^22 slots: a collision has probability ~ 960^2 / 2^23 = 0.11 for a random hash; this seed's
        // keys are known to be distinct, which a broken hash (ignoring an argument) could not be.
        Assert.Equal(3 * 20 * 16, seen.Count);
        Assert.NotEqual(TreeEnsemble.LeafFeature(1, 0, 0, 0, 22), TreeEnsemble.LeafFeature(2, 0, 0, 0, 22));
    }
}
