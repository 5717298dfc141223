using System.Diagnostics;
using AdCtr.Learning.Hashing;
using Microsoft.ML;
using Microsoft.ML.Trainers.FastTree;

namespace AdCtr.Learning.MLNet;

/// <summary>Settings of <see cref="TreeFeaturizer"/>.</summary>
public sealed class TreeFeaturizerOptions
{
    /// <summary>Boosted trees. Default 20.</summary>
    public int Trees { get; set; } = 20;

    /// <summary>Leaves per tree. Default 16.</summary>
    public int Leaves { get; set; } = 16;

    /// <summary>Minimum examples in a leaf. Default 100.</summary>
    public int MinExamplesPerLeaf { get; set; } = 100;

    /// <summary>Shrinkage of each tree. Default 0.2.</summary>
    public double LearningRate { get; set; } = 0.2;

    /// <summary>
    /// A categorical field is a tree input when it has at most this many distinct values in the training window
    /// (one 0/1 input per value); fields with more are left to the linear model. Default 32.
    /// </summary>
    public int MaxCardinality { get; set; } = 32;

    /// <summary>Threads of FastTree. Default 1 (deterministic, and the comparison runs strategies side by side).</summary>
    public int Threads { get; set; } = 1;

    public int Seed { get; set; } = 1;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Trees, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Leaves, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(MinExamplesPerLeaf, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCardinality, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1);
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), "the learning rate must be positive");
        }
    }
}

/// <summary>
/// The trees of He et al. 2014 ("Practical Lessons from Predicting Clicks on Ads at Facebook", section 3.1):
/// gradient-boosted trees (ML.NET FastTree) trained on a window, used only as a feature transform: the leaf an
/// example reaches in each tree becomes a categorical feature of the linear model on top. The trees see the
/// count and numeric fields as numbers and every categorical field with few distinct values as 0/1 inputs (trees
/// are slow and weak on hashed one-hot columns of high-cardinality ids, which the linear model handles).
/// </summary>
public sealed class TreeFeaturizer
{
    private readonly TreeFeaturizerOptions _options;

    public TreeFeaturizer(TreeFeaturizerOptions? options = null)
    {
        _options = options ?? new TreeFeaturizerOptions();
        _options.Validate();
    }

    /// <summary>
    /// Trains trees on <paramref name="data"/>. <paramref name="numeric"/> says, per field, whether its value is a
    /// number (count or numeric fields) rather than a category. <paramref name="generation"/> numbers the
    /// training, so that the leaves of different trainings hash to different features.
    /// </summary>
    public TreeEnsemble Train(FieldTable data, ReadOnlySpan<bool> numeric, int generation, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (numeric.Length != data.Fields)
        {
            throw new ArgumentException("one flag per field is needed", nameof(numeric));
        }

        ct.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        var layout = TreeInputLayout.Build(data, numeric, _options.MaxCardinality);
        var rows = BuildRows(data, layout);
        var ml = new MLContext(_options.Seed);
        var trainer = ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
        {
            LabelColumnName = "Label",
            FeatureColumnName = MlRows.ColumnName(0),
            ExampleWeightColumnName = "Weight",
            NumberOfTrees = _options.Trees,
            NumberOfLeaves = _options.Leaves,
            MinimumExampleCountPerLeaf = _options.MinExamplesPerLeaf,
            LearningRate = _options.LearningRate,
            NumberOfThreads = _options.Threads,
            Seed = _options.Seed,
            FeatureSelectionSeed = _options.Seed,
        });
        var model = trainer.Fit(rows.AsDataView([Math.Max(layout.Inputs, 1)])).Model.SubModel;
        ct.ThrowIfCancellationRequested();
        return new TreeEnsemble(layout, model, generation, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>The trees' training rows: the non-zero inputs of each example (one feature column).</summary>
    internal static MlRows BuildRows(FieldTable data, TreeInputLayout layout)
    {
        var rows = new MlRows();
        var dense = new float[Math.Max(layout.Inputs, 1)];
        var idx = new int[dense.Length];
        var val = new float[dense.Length];
        for (var r = 0; r < data.Count; r++)
        {
            layout.Fill(data.Keys(r), data.Values(r), dense);
            var n = 0;
            for (var j = 0; j < layout.Inputs; j++)
            {
                if (dense[j] != 0)
                {
                    idx[n] = j;
                    val[n++] = dense[j];
                }
            }

            rows.Add(default, idx.AsSpan(0, n), val.AsSpan(0, n), data.Label(r), data.Weight(r));
        }

        return rows;
    }
}

/// <summary>
/// How an example's fields become the trees' inputs: a numeric field is one input (its value; -1 when missing);
/// a categorical field with at most MaxCardinality distinct values in the training window is one 0/1 input per
/// value (values not seen in the window light none); other fields are not inputs.
/// </summary>
public sealed class TreeInputLayout
{
    private readonly int[] _numericInput;
    private readonly Dictionary<uint, int>?[] _categoryInputs;

    private TreeInputLayout(int[] numericInput, Dictionary<uint, int>?[] categoryInputs, int inputs)
    {
        _numericInput = numericInput;
        _categoryInputs = categoryInputs;
        Inputs = inputs;
    }

    /// <summary>Number of tree inputs.</summary>
    public int Inputs { get; }

    /// <summary>Fields used by the trees.</summary>
    public int FieldsUsed
    {
        get
        {
            var n = 0;
            for (var f = 0; f < _numericInput.Length; f++)
            {
                n += _numericInput[f] >= 0 || _categoryInputs[f] is not null ? 1 : 0;
            }

            return n;
        }
    }

    /// <summary>The layout for <paramref name="data"/>, inputs numbered in field order then first-seen value order.</summary>
    public static TreeInputLayout Build(FieldTable data, ReadOnlySpan<bool> numeric, int maxCardinality)
    {
        var fields = data.Fields;
        var distinct = new Dictionary<uint, int>?[fields];
        for (var f = 0; f < fields; f++)
        {
            distinct[f] = numeric[f] ? null : [];
        }

        for (var r = 0; r < data.Count; r++)
        {
            var keys = data.Keys(r);
            for (var f = 0; f < fields; f++)
            {
                var d = distinct[f];
                if (d is not null && keys[f] != 0 && d.Count <= maxCardinality)
                {
                    d.TryAdd(keys[f], d.Count);
                }
            }
        }

        var numericInput = new int[fields];
        var categories = new Dictionary<uint, int>?[fields];
        var inputs = 0;
        for (var f = 0; f < fields; f++)
        {
            numericInput[f] = -1;
            if (numeric[f])
            {
                numericInput[f] = inputs++;
            }
            else if (distinct[f] is { Count: > 0 } d && d.Count <= maxCardinality)
            {
                var map = new Dictionary<uint, int>(d.Count);
                foreach (var (key, order) in d)
                {
                    map.Add(key, inputs + order);
                }

                categories[f] = map;
                inputs += d.Count;
            }
        }

        return new TreeInputLayout(numericInput, categories, inputs);
    }

    /// <summary>Writes the tree inputs of one example (one key and value per field) into <paramref name="inputs"/>.</summary>
    public void Fill(ReadOnlySpan<uint> keys, ReadOnlySpan<float> values, Span<float> inputs)
    {
        inputs[..Inputs].Clear();
        for (var f = 0; f < _numericInput.Length; f++)
        {
            var n = _numericInput[f];
            if (n >= 0)
            {
                inputs[n] = keys[f] != 0 ? values[f] : -1f;
            }
            else if (keys[f] != 0 && _categoryInputs[f] is { } map && map.TryGetValue(keys[f], out var at))
            {
                inputs[at] = 1f;
            }
        }
    }
}

/// <summary>
/// Trained trees, walked here from their node arrays (no ML.NET call per example): at node i the example goes
/// left when input[NumericalSplitFeatureIndexes[i]] &lt;= NumericalSplitThresholds[i], right otherwise, until a
/// negative child ~leaf (ML.NET's <c>RegressionTreeBase</c> conventions; the trees are trained without
/// categorical splits).
/// </summary>
public sealed class TreeEnsemble
{
    private readonly int[][] _left;
    private readonly int[][] _right;
    private readonly int[][] _feature;
    private readonly float[][] _threshold;

    internal TreeEnsemble(TreeInputLayout layout, FastTreeBinaryModelParameters model, int generation, double seconds)
    {
        Layout = layout;
        Generation = generation;
        Seconds = seconds;
        var trees = model.TrainedTreeEnsemble.Trees;
        _left = new int[trees.Count][];
        _right = new int[trees.Count][];
        _feature = new int[trees.Count][];
        _threshold = new float[trees.Count][];
        LeafCounts = new int[trees.Count];
        for (var t = 0; t < trees.Count; t++)
        {
            var tree = trees[t];
            _left[t] = [.. tree.LeftChild];
            _right[t] = [.. tree.RightChild];
            _feature[t] = [.. tree.NumericalSplitFeatureIndexes];
            _threshold[t] = [.. tree.NumericalSplitThresholds];
            LeafCounts[t] = tree.NumberOfLeaves;
            foreach (var categorical in tree.CategoricalSplitFlags)
            {
                if (categorical)
                {
                    throw new NotSupportedException("categorical splits are not expected: the trees are trained on numeric inputs");
                }
            }
        }

        Model = model;
    }

    /// <summary>ML.NET's model (for checks against its own featurizer).</summary>
    public FastTreeBinaryModelParameters Model { get; }

    public TreeInputLayout Layout { get; }

    /// <summary>Which training this is (part of the leaf features' hash).</summary>
    public int Generation { get; }

    /// <summary>Wall-clock training time in seconds, input preparation included.</summary>
    public double Seconds { get; }

    /// <summary>Number of trees.</summary>
    public int Trees => _left.Length;

    /// <summary>Leaves of each tree.</summary>
    public int[] LeafCounts { get; }

    /// <summary>The leaf of tree <paramref name="tree"/> that <paramref name="inputs"/> reaches, in 0..LeafCounts[tree]-1.</summary>
    public int LeafOf(int tree, ReadOnlySpan<float> inputs)
    {
        var left = _left[tree];
        if (left.Length == 0)
        {
            return 0;
        }

        var right = _right[tree];
        var feature = _feature[tree];
        var threshold = _threshold[tree];
        var node = 0;
        while (node >= 0)
        {
            node = inputs[feature[node]] <= threshold[node] ? left[node] : right[node];
        }

        return ~node;
    }

    /// <summary>
    /// Appends one feature per tree to <paramref name="indices"/> / <paramref name="values"/> (value 1): the leaf the
    /// example reaches, hashed with <see cref="LeafFeature"/>. <paramref name="inputs"/> is scratch space of at least
    /// <see cref="TreeInputLayout.Inputs"/> floats. Returns the number of features written.
    /// </summary>
    public int AppendLeafFeatures(ReadOnlySpan<uint> keys, ReadOnlySpan<float> values, Span<float> inputs, uint seed, int bits, Span<int> indices, Span<float> featureValues)
    {
        Layout.Fill(keys, values, inputs);
        for (var t = 0; t < Trees; t++)
        {
            indices[t] = LeafFeature(seed, Generation, t, LeafOf(t, inputs), bits);
            featureValues[t] = 1f;
        }

        return Trees;
    }

    /// <summary>
    /// The hashed feature index of (training generation, tree, leaf): MurmurHash3 of the three numbers with the
    /// spec's seed, mod 2^bits. A categorical feature "tree t of training g ended in leaf l" in the same hashed space
    /// as the other features, so the online model learns one weight per leaf.
    /// </summary>
    public static int LeafFeature(uint seed, int generation, int tree, int leaf, int bits)
    {
        var h = MurmurHash3.Hash32((uint)tree, (uint)leaf, seed ^ 0x7EE5EED5u);
        h = MurmurHash3.Hash32(h, (uint)generation, seed);
        return (int)(h & ((1u << bits) - 1));
    }
}
