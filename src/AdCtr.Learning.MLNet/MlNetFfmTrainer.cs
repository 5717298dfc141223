using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Trainers;

namespace AdCtr.Learning.MLNet;

/// <summary>Settings of <see cref="MlNetFfmTrainer"/>.</summary>
public sealed class MlNetFfmOptions
{
    /// <summary>Latent dimension k of each (feature, field) vector. Default 8.</summary>
    public int LatentDimension { get; set; } = 8;

    /// <summary>Passes over the data (ML.NET's stochastic AdaGrad). Default 5.</summary>
    public int Iterations { get; set; } = 5;

    /// <summary>Learning rate. Default 0.1 (ML.NET's).</summary>
    public float LearningRate { get; set; } = 0.1f;

    /// <summary>L2 of the linear weights. Default 1e-4 (ML.NET's).</summary>
    public float LambdaLinear { get; set; } = 1e-4f;

    /// <summary>L2 of the latent vectors. Default 1e-4 (ML.NET's).</summary>
    public float LambdaLatent { get; set; } = 1e-4f;

    /// <summary>
    /// A field value must occur this many times in the training window to get its own feature; rarer values
    /// (and values never seen) contribute nothing. Default 2.
    /// </summary>
    public int MinCount { get; set; } = 2;

    /// <summary>Seed of the ML.NET context (initial latent vectors, shuffling).</summary>
    public int Seed { get; set; } = 1;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(LatentDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Iterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MinCount, 1);
        if (!(LearningRate > 0) || !(LambdaLinear >= 0) || !(LambdaLatent >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), "the learning rate must be positive and the lambdas non-negative");
        }
    }
}

/// <summary>
/// Field-aware factorization machine (Juan et al., RecSys 2016; the Criteo 2014 winner's model) trained by ML.NET's
/// <c>FieldAwareFactorizationMachine</c>. The fields are the feature spec's fields, one ML.NET feature column
/// each, plus a constant field whose linear weight is the intercept (ML.NET's FFM has none). Each field's values
/// seen in the training window (at least <see cref="MlNetFfmOptions.MinCount"/> times) are numbered 0..n-1 per
/// field, so the model holds only those: no hashing collisions and no 2^bits-sized tables. The spec's crosses are
/// not given to it: pairwise interactions of every two fields are what the model learns.
/// </summary>
public sealed class MlNetFfmTrainer
{
    private readonly MlNetFfmOptions _options;

    public MlNetFfmTrainer(MlNetFfmOptions? options = null)
    {
        _options = options ?? new MlNetFfmOptions();
        _options.Validate();
    }

    /// <summary>Trains on <paramref name="data"/>; the result scores examples given as the same (key, value) per field.</summary>
    public FfmModel Train(FieldTable data, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ct.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        var fields = data.Fields;

        // Vocabulary per field, in first-seen order (deterministic for a given stream).
        var counts = new Dictionary<uint, int>[fields];
        for (var f = 0; f < fields; f++)
        {
            counts[f] = [];
        }

        for (var r = 0; r < data.Count; r++)
        {
            var keys = data.Keys(r);
            for (var f = 0; f < fields; f++)
            {
                if (keys[f] != 0)
                {
                    ref var c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts[f], keys[f], out _);
                    c++;
                }
            }
        }

        var vocab = new Dictionary<uint, int>[fields];
        var sizes = new int[fields + 1];
        for (var f = 0; f < fields; f++)
        {
            vocab[f] = [];
            foreach (var (key, count) in counts[f])
            {
                if (count >= _options.MinCount)
                {
                    vocab[f].Add(key, vocab[f].Count);
                }
            }

            // A column of size 0 is not allowed: an empty field keeps one unused slot.
            sizes[f] = Math.Max(vocab[f].Count, 1);
        }

        sizes[fields] = 1;
        var rows = new MlRows(fields + 1);
        var columns = new int[fields + 1];
        var indices = new int[fields + 1];
        var values = new float[fields + 1];
        for (var r = 0; r < data.Count; r++)
        {
            var keys = data.Keys(r);
            var vals = data.Values(r);
            var n = 0;
            for (var f = 0; f < fields; f++)
            {
                if (keys[f] != 0 && vocab[f].TryGetValue(keys[f], out var id))
                {
                    columns[n] = f;
                    indices[n] = id;
                    values[n++] = vals[f];
                }
            }

            columns[n] = fields;
            indices[n] = 0;
            values[n++] = 1;
            rows.Add(columns.AsSpan(0, n), indices.AsSpan(0, n), values.AsSpan(0, n), data.Label(r), data.Weight(r));
        }

        var ml = new MLContext(_options.Seed);
        var extra = new string[fields];
        for (var f = 1; f <= fields; f++)
        {
            extra[f - 1] = MlRows.ColumnName(f);
        }

        var trainer = ml.BinaryClassification.Trainers.FieldAwareFactorizationMachine(new FieldAwareFactorizationMachineTrainer.Options
        {
            LabelColumnName = "Label",
            ExampleWeightColumnName = "Weight",
            FeatureColumnName = MlRows.ColumnName(0),
            ExtraFeatureColumns = extra,
            LatentDimension = _options.LatentDimension,
            NumberOfIterations = _options.Iterations,
            LearningRate = _options.LearningRate,
            LambdaLinear = _options.LambdaLinear,
            LambdaLatent = _options.LambdaLatent,

            // Each field holds one value: scaling it to unit length would change nothing for categories and would
            // erase the magnitude of counts.
            NormalizeFeatures = false,
            Shuffle = true,
            Verbose = false,
        });

        var model = trainer.Fit(rows.AsDataView(sizes)).Model;
        ct.ThrowIfCancellationRequested();
        return new FfmModel(vocab, sizes, model, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}

/// <summary>
/// A trained field-aware factorization machine, scored here from its weights (no ML.NET call per example):
/// logit = sum_f w_f x_f + sum_{f &lt; g} &lt;v_{f,g}, v_{g,f}&gt; x_f x_g over the present fields f (one feature
/// each, the constant intercept field included), v_{f,g} being the latent vector of field f's feature towards
/// field g.
/// </summary>
public sealed class FfmModel
{
    private readonly Dictionary<uint, int>[] _vocab;
    private readonly int[] _offset;
    private readonly float[] _linear;
    private readonly float[] _latent;
    private readonly int _fieldCount;
    private readonly int _k;

    internal FfmModel(Dictionary<uint, int>[] vocab, int[] sizes, FieldAwareFactorizationMachineModelParameters model, double seconds)
    {
        _vocab = vocab;
        _offset = new int[sizes.Length];
        for (var f = 1; f < sizes.Length; f++)
        {
            _offset[f] = _offset[f - 1] + sizes[f - 1];
        }

        _linear = [.. model.GetLinearWeights()];
        _latent = [.. model.GetLatentWeights()];
        _fieldCount = model.FieldCount;
        _k = model.LatentDimension;
        Parameters = model;
        Seconds = seconds;
    }

    /// <summary>ML.NET's model (for checks against its own scoring).</summary>
    public FieldAwareFactorizationMachineModelParameters Parameters { get; }

    /// <summary>Wall-clock training time in seconds, vocabulary included.</summary>
    public double Seconds { get; }

    /// <summary>Features in the model (field values kept, plus the intercept).</summary>
    public int Features => _linear.Length;

    /// <summary>The logit of an example given as one (key, value) per field; unknown values contribute nothing.</summary>
    public double PredictLogit(ReadOnlySpan<uint> keys, ReadOnlySpan<float> values)
    {
        var fields = _vocab.Length;
        Span<int> feature = stackalloc int[fields + 1];
        Span<int> field = stackalloc int[fields + 1];
        Span<float> x = stackalloc float[fields + 1];
        var n = 0;
        for (var f = 0; f < fields; f++)
        {
            if (keys[f] != 0 && _vocab[f].TryGetValue(keys[f], out var id))
            {
                feature[n] = _offset[f] + id;
                field[n] = f;
                x[n++] = values[f];
            }
        }

        feature[n] = _offset[fields];
        field[n] = fields;
        x[n++] = 1;

        double z = 0;
        var k = _k;
        var latent = _latent.AsSpan();
        for (var a = 0; a < n; a++)
        {
            z += _linear[feature[a]] * x[a];
            for (var b = a + 1; b < n; b++)
            {
                var va = latent.Slice(((feature[a] * _fieldCount) + field[b]) * k, k);
                var vb = latent.Slice(((feature[b] * _fieldCount) + field[a]) * k, k);
                double dot = 0;
                for (var d = 0; d < k; d++)
                {
                    dot += va[d] * vb[d];
                }

                z += dot * x[a] * x[b];
            }
        }

        return z;
    }

    /// <summary>sigmoid(<see cref="PredictLogit"/>).</summary>
    public double Predict(ReadOnlySpan<uint> keys, ReadOnlySpan<float> values) => 1 / (1 + Math.Exp(-PredictLogit(keys, values)));
}
