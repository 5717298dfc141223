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
        var rows = BuildRows(data, vocab);
        var ml = new MLContext(_options.Seed);
        var extra = new string[fields];
        for (var f = 1; f <= fields; f++)
        {
            extra[f - 1] = MlRows.ColumnName(f);
        }

        var trainer = ml.BinaryClassification.Trainers.FieldAwareFactorizationMachine(new FieldAwareFactorizationMachineTrainer.Options
        {
            LabelColumnName = "Label",
            // No weight column: ML.NET 5.0.1's FFM takes it for a feature column and throws (every column after the
            // label is read as a field). Example weights are therefore ignored by this trainer.
            FeatureColumnName = MlRows.ColumnName(0),
            ExtraFeatureColumns = extra,
            LatentDimension = _options.LatentDimension,
            NumberOfIterations = _options.Iterations,
            LearningRate = _options.LearningRate,
            LambdaLinear = _options.LambdaLinear,
            LambdaLatent = _options.LambdaLatent,

            // ML.NET's default, LIBFFM's instance normalisation (each example scaled to unit length): without it the
            // 14 fields' ~90 pairwise terms start large and the model ends far off calibration (measured: 13x).
            NormalizeFeatures = true,
            Shuffle = true,
            Verbose = false,
        });

        var view = rows.AsDataView(sizes);
        var transformer = trainer.Fit(view);
        ct.ThrowIfCancellationRequested();
        return new FfmModel(vocab, sizes, transformer, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>ML.NET rows of <paramref name="data"/>: one column per field (the value's number in its field), then the intercept.</summary>
    internal static MlRows BuildRows(FieldTable data, Dictionary<uint, int>[] vocab)
    {
        var fields = data.Fields;
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

        return rows;
    }
}

/// <summary>
/// A trained field-aware factorization machine. Examples are scored in batches by ML.NET's own transformer (the
/// model is frozen between trainings, so a whole block is scored at once): logit = sum_f w_f x_f + sum over
/// pairs of present fields f, g of &lt;v_{f,g}, v_{g,f}&gt; x_f x_g.
/// </summary>
public sealed class FfmModel
{
    private readonly Dictionary<uint, int>[] _vocab;

    internal FfmModel(Dictionary<uint, int>[] vocab, int[] sizes, FieldAwareFactorizationMachinePredictionTransformer transformer, double seconds)
    {
        _vocab = vocab;
        Transformer = transformer;
        Sizes = sizes;
        Parameters = transformer.Model;
        Seconds = seconds;
    }

    internal FieldAwareFactorizationMachinePredictionTransformer Transformer { get; }

    internal int[] Sizes { get; }

    internal Dictionary<uint, int>[] Vocabulary => _vocab;

    /// <summary>ML.NET's model parameters.</summary>
    public FieldAwareFactorizationMachineModelParameters Parameters { get; }

    /// <summary>Wall-clock training time in seconds, vocabulary included.</summary>
    public double Seconds { get; }

    /// <summary>Features in the model (field values kept, plus the intercept).</summary>
    public int Features => Parameters.FeatureCount;

    /// <summary>
    /// The logits of every example of <paramref name="data"/> into <paramref name="logits"/>, in order; values not
    /// in the training vocabulary contribute nothing.
    /// </summary>
    public void PredictLogits(FieldTable data, Span<double> logits)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0)
        {
            return;
        }

        var view = MlNetFfmTrainer.BuildRows(data, _vocab).AsDataView(Sizes);
        var scored = Transformer.Transform(view);
        var column = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor([column]);
        var getter = cursor.GetGetter<float>(column);
        var i = 0;
        float score = 0;
        while (cursor.MoveNext())
        {
            getter(ref score);
            logits[i++] = score;
        }
    }
}
