using System.Buffers;
using System.Diagnostics;
using System.Reflection;
using AdCtr.Learning.Batch;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace AdCtr.Learning.MLNet;

/// <summary>Settings of <see cref="MlNetLogisticTrainer"/>.</summary>
public sealed class MlNetLogisticOptions
{
    /// <summary>
    /// L2 strength: ML.NET minimises (sum_i c_i logloss_i + 0.5 * L2 * ||w||^2) / sum_i c_i, the intercept not
    /// penalised; the same objective as the project's other batch trainer, so the same value means the same model.
    /// Default 1.
    /// </summary>
    public double L2 { get; set; } = 1.0;

    /// <summary>Maximum L-BFGS iterations. Default 100.</summary>
    public int MaxIterations { get; set; } = 100;

    /// <summary>ML.NET's stopping rule: mean relative improvement of the objective over 5 iterations. Default 1e-7.</summary>
    public double OptimizationTolerance { get; set; } = 1e-7;

    /// <summary>(step, gradient change) pairs L-BFGS keeps. Default 10.</summary>
    public int HistorySize { get; set; } = 10;

    /// <summary>
    /// Threads of ML.NET's gradient evaluation. Default 2, fixed rather than the processor count so that results
    /// are the same on every machine (the chunks and their order depend on it).
    /// </summary>
    public int Threads { get; set; } = 2;

    /// <summary>Seed of the ML.NET context.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (!(L2 >= 0) || !double.IsFinite(L2))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), "L2 must be finite and non-negative.");
        }

        if (!(OptimizationTolerance > 0) || !double.IsFinite(OptimizationTolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(OptimizationTolerance), "The tolerance must be positive.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(HistorySize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1);
    }
}

/// <summary>
/// L2-regularised logistic regression trained by ML.NET's <c>LbfgsLogisticRegression</c> on the project's hashed
/// sparse features (the nightly job a .NET team would run). The rows of a <see cref="SparseDataset"/> are fed as
/// sparse vectors through <see cref="MlRows"/>; the feature indices that occur are first compacted to 0..K-1
/// (ML.NET's L-BFGS keeps dense vectors of the model's dimension, 2^22 hashed slots would cost 16 MB each), and
/// the encoder's bias feature becomes ML.NET's unpenalised intercept. A warm start (yesterday's weights) is
/// passed to ML.NET as the initial model.
/// </summary>
public sealed class MlNetLogisticTrainer
{
    private readonly MlNetLogisticOptions _options;

    /// <summary>Creates a trainer; the options are validated and copied.</summary>
    public MlNetLogisticTrainer(MlNetLogisticOptions? options = null)
    {
        var o = options ?? new MlNetLogisticOptions();
        o.Validate();
        _options = new MlNetLogisticOptions
        {
            L2 = o.L2,
            MaxIterations = o.MaxIterations,
            OptimizationTolerance = o.OptimizationTolerance,
            HistorySize = o.HistorySize,
            Threads = o.Threads,
            Seed = o.Seed,
        };
    }

    /// <summary>
    /// Trains on <paramref name="data"/>, whose feature <paramref name="biasIndex"/> is the constant 1 of every
    /// row. <paramref name="warmStart"/>, when not empty, is a full-dimension weight vector to start from (the
    /// intercept at <paramref name="biasIndex"/>). Cancellation is checked before and after ML.NET's training.
    /// </summary>
    public LinearModel Train(SparseDataset data, int biasIndex, ReadOnlySpan<float> warmStart = default, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(biasIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(biasIndex, data.Dimension);
        if (!warmStart.IsEmpty && warmStart.Length != data.Dimension)
        {
            throw new ArgumentException("The warm start must be empty or have the dataset's dimension.", nameof(warmStart));
        }

        foreach (var v in warmStart)
        {
            if (!float.IsFinite(v))
            {
                throw new ArgumentException("The warm start must be finite.", nameof(warmStart));
            }
        }

        ct.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        var weights = new float[data.Dimension];
        var map = ArrayPool<int>.Shared.Rent(data.Dimension);
        try
        {
            // Compact column of each feature index that occurs (the bias aside), in index order.
            map.AsSpan(0, data.Dimension).Fill(-1);
            for (var r = 0; r < data.Rows; r++)
            {
                foreach (var i in data.RowIndices(r))
                {
                    map[i] = 0;
                }
            }

            map[biasIndex] = -1;
            var used = new List<int>();
            for (var i = 0; i < data.Dimension; i++)
            {
                if (map[i] == 0)
                {
                    map[i] = used.Count;
                    used.Add(i);
                }
            }

            if (data.Rows == 0 || !(data.WeightSum > 0))
            {
                if (!warmStart.IsEmpty)
                {
                    warmStart.CopyTo(weights);
                }

                return new LinearModel(weights, biasIndex, 0, Stopwatch.GetElapsedTime(started).TotalSeconds);
            }

            var rows = new MlRows();
            var idxBuffer = new int[64];
            var valBuffer = new float[64];
            for (var r = 0; r < data.Rows; r++)
            {
                var ri = data.RowIndices(r);
                var rv = data.RowValues(r);
                if (idxBuffer.Length < ri.Length)
                {
                    idxBuffer = new int[ri.Length * 2];
                    valBuffer = new float[ri.Length * 2];
                }

                var n = 0;
                for (var k = 0; k < ri.Length; k++)
                {
                    if (ri[k] != biasIndex)
                    {
                        idxBuffer[n] = map[ri[k]];
                        valBuffer[n++] = rv[k];
                    }
                }

                rows.Add(default, idxBuffer.AsSpan(0, n), valBuffer.AsSpan(0, n), data.Label(r) > 0, data.Weight(r));
            }

            var k2 = Math.Max(used.Count, 1);
            var ml = new MLContext(_options.Seed);
            var view = rows.AsDataView([k2]);
            var trainer = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
            {
                LabelColumnName = "Label",
                FeatureColumnName = MlRows.ColumnName(0),
                ExampleWeightColumnName = "Weight",
                L1Regularization = 0,
                L2Regularization = (float)_options.L2,
                OptimizationTolerance = (float)_options.OptimizationTolerance,
                HistorySize = _options.HistorySize,
                MaximumNumberOfIterations = _options.MaxIterations,
                NumberOfThreads = _options.Threads,
                Quiet = true,
            });

            LinearModelParameters? initial = null;
            if (!warmStart.IsEmpty)
            {
                var start = new float[k2];
                for (var j = 0; j < used.Count; j++)
                {
                    start[j] = warmStart[used[j]];
                }

                var startBuffer = new VBuffer<float>(k2, start);
                initial = InitialModel(ml, startBuffer, warmStart[biasIndex]);
            }

            var model = trainer.Fit(view, initial).Model.SubModel;
            ct.ThrowIfCancellationRequested();
            var trained = model.Weights;
            for (var j = 0; j < used.Count; j++)
            {
                weights[used[j]] = trained[j];
            }

            weights[biasIndex] = model.Bias;
            return new LinearModel(weights, biasIndex, used.Count, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(map);
        }
    }

    /// <summary>
    /// ML.NET's L-BFGS accepts any <see cref="LinearModelParameters"/> as its starting point (its weights and bias),
    /// but in 5.0 every constructor of one from given weights is internal: the documented way is to pass a model
    /// ML.NET trained. To start from the project's own weights (yesterday's model plus the online correction, or
    /// the server's live model), the internal constructor of <see cref="LinearBinaryModelParameters"/>
    /// <c>(IHostEnvironment, in VBuffer&lt;float&gt;, float, ModelStatisticsBase)</c> is called by reflection. A
    /// test trains from a warm start so that an ML.NET upgrade that changes it fails there, not in production.
    /// </summary>
    internal static LinearModelParameters InitialModel(MLContext ml, VBuffer<float> weights, float bias)
    {
        var ctor = typeof(LinearBinaryModelParameters).GetConstructor(
            BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public,
            [typeof(IHostEnvironment), typeof(VBuffer<float>).MakeByRefType(), typeof(float), typeof(ModelStatisticsBase)])
            ?? throw new NotSupportedException("this ML.NET version has no LinearBinaryModelParameters(env, weights, bias, stats) constructor");
        return (LinearModelParameters)ctor.Invoke([ml, weights, bias, null]);
    }
}
