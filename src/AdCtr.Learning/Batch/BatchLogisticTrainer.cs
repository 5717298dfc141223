using System.Diagnostics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;
using MathNet.Numerics.Optimization;

namespace AdCtr.Learning.Batch;

/// <summary>
/// The "nightly batch job": L2-regularised logistic regression trained to convergence with L-BFGS
/// (Liu and Nocedal, "On the limited memory BFGS method for large scale optimization", 1989), using
/// MathNet.Numerics' <see cref="LimitedMemoryBfgsMinimizer"/>.
/// <para>
/// Objective: sum_i c_i * logloss(y_i, sigmoid(w . x_i)) + 0.5 * L2 * sum_{j != bias} w_j^2. The optimiser
/// sees it divided by the total weight (same minimiser; tolerances then do not depend on the dataset size)
/// and only over the feature indices that occur in the data, compacted to 0..K-1; the other weights are 0
/// (their gradient is 0 and the penalty pulls them to 0). Each evaluation is one pass over the rows, split
/// into partitions evaluated in parallel with a gradient buffer each, without per-row allocation.
/// </para>
/// <para>
/// The minimiser throws when it cannot make progress (maximum iterations, line-search failure, a
/// non-descent direction). Those exceptions are caught and the best point evaluated so far is returned with
/// <see cref="BatchModel.Converged"/> false. Convergence is judged on that point by this class, not taken
/// from the minimiser's exit status.
/// </para>
/// </summary>
public sealed class BatchLogisticTrainer
{
    private const int MinRowsPerPartition = 4096;
    private const double ParameterTolerance = 1e-10;
    private const double FunctionProgressTolerance = 1e-12;

    private readonly BatchTrainerOptions _options;

    /// <summary>Creates a trainer; the options are validated and copied.</summary>
    public BatchLogisticTrainer(BatchTrainerOptions? options = null)
    {
        var o = options ?? new BatchTrainerOptions();
        o.Validate();
        _options = new BatchTrainerOptions
        {
            L2 = o.L2,
            MaxIterations = o.MaxIterations,
            GradientTolerance = o.GradientTolerance,
            Memory = o.Memory,
            BiasIndex = o.BiasIndex,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
        };
    }

    /// <summary>
    /// Trains on <paramref name="data"/>. <paramref name="warmStart"/>, when not empty, is a full-dimension
    /// weight vector to start from (e.g. yesterday's model). Cancellation is checked at every evaluation
    /// and surfaces as <see cref="OperationCanceledException"/>.
    /// </summary>
    public BatchModel Train(SparseDataset data, ReadOnlySpan<float> warmStart = default, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
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

        var used = UsedIndices(data);
        var weights = new float[data.Dimension];
        if (used.Length == 0 || !(data.WeightSum > 0))
        {
            // Nothing to fit: the penalty alone is minimised by w = 0.
            return new BatchModel(weights, 0, 0, ZeroWeightObjective(data), 0, BatchStopReason.NothingToLearn, used.Length,
                Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        var problem = new Problem(data, used, _options, ct);
        var initial = new double[used.Length];
        if (!warmStart.IsEmpty)
        {
            for (var j = 0; j < used.Length; j++)
            {
                initial[j] = warmStart[used[j]];
            }
        }

        var minimizer = new LimitedMemoryBfgsMinimizer(
            _options.GradientTolerance, ParameterTolerance, FunctionProgressTolerance, _options.Memory, _options.MaxIterations);

        BatchStopReason reason;
        try
        {
            minimizer.FindMinimum(new Objective(problem), DenseVector.OfArray(initial));
            reason = BatchStopReason.NoProgress;
        }
        catch (MaximumIterationsException)
        {
            reason = BatchStopReason.MaximumIterations;
        }
        catch (InnerOptimizationException)
        {
            // Line search failed or the direction was not a descent direction.
            reason = BatchStopReason.NoProgress;
        }
        catch (EvaluationException)
        {
            // A non-finite value or gradient; the best finite point is kept.
            reason = BatchStopReason.NoProgress;
        }

        if (problem.BestGradientNorm <= _options.GradientTolerance || problem.BestRelativeGradient <= _options.GradientTolerance)
        {
            reason = BatchStopReason.Converged;
        }
        else if (reason == BatchStopReason.NoProgress && problem.LineSearches >= _options.MaxIterations)
        {
            reason = BatchStopReason.MaximumIterations;
        }

        var best = problem.BestPoint;
        for (var j = 0; j < used.Length; j++)
        {
            weights[used[j]] = (float)best[j];
        }

        return new BatchModel(
            weights,
            problem.LineSearches,
            problem.Evaluations,
            problem.BestValue * data.WeightSum,
            problem.BestGradientNorm,
            reason,
            used.Length,
            Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static double ZeroWeightObjective(SparseDataset data) => data.WeightSum * Math.Log(2);

    /// <summary>The sorted distinct feature indices of the dataset.</summary>
    private static int[] UsedIndices(SparseDataset data)
    {
        var all = data.AllIndices.ToArray();
        Array.Sort(all);
        var count = 0;
        for (var k = 0; k < all.Length; k++)
        {
            if (count == 0 || all[k] != all[count - 1])
            {
                all[count++] = all[k];
            }
        }

        Array.Resize(ref all, count);
        return all;
    }

    /// <summary>The data in compact coordinates, the evaluation buffers and the best point seen.</summary>
    private sealed class Problem
    {
        private readonly int[] _rowStart;
        private readonly int[] _columns;
        private readonly float[] _values;
        private readonly int[] _labels;
        private readonly float[] _weights;
        private readonly int[] _partitionStart;
        private readonly double[][] _partitionGradient;
        private readonly double[] _partitionLoss;
        private readonly double _inverseWeight;
        private readonly double _l2;
        private readonly int _bias;
        private readonly CancellationToken _ct;
        private double[] _point = [];

        public Problem(SparseDataset data, int[] used, BatchTrainerOptions options, CancellationToken ct)
        {
            _rowStart = data.RowStartArray;
            _values = data.ValuesArray;
            _labels = data.LabelsArray;
            _weights = data.WeightsArray;
            _inverseWeight = 1 / data.WeightSum;
            _l2 = options.L2;
            _ct = ct;
            _bias = options.BiasIndex is { } b ? Array.BinarySearch(used, b) : -1;
            if (_bias < 0)
            {
                _bias = -1;
            }

            var indices = data.AllIndices;
            _columns = new int[indices.Length];
            for (var k = 0; k < indices.Length; k++)
            {
                _columns[k] = Array.BinarySearch(used, indices[k]);
            }

            var rows = data.Rows;
            var partitions = Math.Clamp(rows / MinRowsPerPartition, 1, options.MaxDegreeOfParallelism);
            _partitionStart = new int[partitions + 1];
            for (var p = 0; p <= partitions; p++)
            {
                _partitionStart[p] = (int)((long)rows * p / partitions);
            }

            _partitionGradient = new double[partitions][];
            for (var p = 0; p < partitions; p++)
            {
                _partitionGradient[p] = new double[used.Length];
            }

            _partitionLoss = new double[partitions];
            BestPoint = new double[used.Length];
        }

        public int Dimension => BestPoint.Length;

        public int Evaluations { get; private set; }

        public int LineSearches { get; set; }

        public double[] BestPoint { get; }

        public double BestValue { get; private set; } = double.PositiveInfinity;

        public double BestGradientNorm { get; private set; } = double.PositiveInfinity;

        public double BestRelativeGradient { get; private set; } = double.PositiveInfinity;

        /// <summary>Objective / total weight and its gradient at <paramref name="point"/>.</summary>
        public (double Value, Vector<double> Gradient) Evaluate(Vector<double> point)
        {
            _ct.ThrowIfCancellationRequested();
            Evaluations++;
            _point = point is DenseVector dense ? dense.Values : point.ToArray();

            var partitions = _partitionLoss.Length;
            if (partitions == 1)
            {
                EvaluatePartition(0);
            }
            else
            {
                Parallel.For(0, partitions, EvaluatePartition);
            }

            var x = _point;
            var gradient = new double[x.Length];
            double loss = 0;
            for (var p = 0; p < partitions; p++)
            {
                loss += _partitionLoss[p];
                var g = _partitionGradient[p];
                for (var j = 0; j < gradient.Length; j++)
                {
                    gradient[j] += g[j];
                }
            }

            double penalty = 0;
            for (var j = 0; j < x.Length; j++)
            {
                if (j != _bias)
                {
                    penalty += x[j] * x[j];
                    gradient[j] += _l2 * x[j];
                }
            }

            var value = (loss + 0.5 * _l2 * penalty) * _inverseWeight;
            double norm2 = 0, relative = 0;
            for (var j = 0; j < gradient.Length; j++)
            {
                gradient[j] *= _inverseWeight;
                norm2 += gradient[j] * gradient[j];

                // MathNet's relative-gradient measure, so that a stop on it counts as converged here too.
                relative = Math.Max(relative, Math.Abs(gradient[j]) * Math.Max(Math.Abs(x[j]), 1) / Math.Max(Math.Abs(value), 1));
            }

            if (double.IsFinite(value) && value < BestValue && double.IsFinite(norm2))
            {
                BestValue = value;
                BestGradientNorm = Math.Sqrt(norm2);
                BestRelativeGradient = relative;
                Array.Copy(x, BestPoint, x.Length);
            }

            return (value, DenseVector.OfArray(gradient));
        }

        private void EvaluatePartition(int partition)
        {
            var g = _partitionGradient[partition];
            Array.Clear(g);
            var x = _point;
            var rowStart = _rowStart;
            var columns = _columns;
            var values = _values;
            double loss = 0;
            for (var r = _partitionStart[partition]; r < _partitionStart[partition + 1]; r++)
            {
                var c = (double)_weights[r];
                if (c == 0)
                {
                    continue;
                }

                int start = rowStart[r], end = rowStart[r + 1];
                double z = 0;
                for (var k = start; k < end; k++)
                {
                    z += x[columns[k]] * values[k];
                }

                // logloss = softplus(z) - y z, with softplus(z) = max(z, 0) + log(1 + exp(-|z|)) (no overflow).
                var y = _labels[r];
                var e = Math.Exp(-Math.Abs(z));
                loss += c * (Math.Max(z, 0) + Math.Log(1 + e) - y * z);
                var p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
                var d = c * (p - y);
                for (var k = start; k < end; k++)
                {
                    g[columns[k]] += d * values[k];
                }
            }

            _partitionLoss[partition] = loss;
        }
    }

    /// <summary>
    /// MathNet's objective interface over <see cref="Problem"/>. The L-BFGS minimiser creates one fresh
    /// objective per line search (CreateNew), which is where iterations are counted.
    /// </summary>
    private sealed class Objective(Problem problem) : IObjectiveFunction
    {
        public Vector<double> Point { get; private set; } = DenseVector.Create(problem.Dimension, 0);

        public double Value { get; private set; }

        public Vector<double> Gradient { get; private set; } = DenseVector.Create(problem.Dimension, 0);

        public Matrix<double> Hessian => throw new NotSupportedException("The logistic objective provides no Hessian.");

        public bool IsGradientSupported => true;

        public bool IsHessianSupported => false;

        public IObjectiveFunction CreateNew()
        {
            problem.LineSearches++;
            return new Objective(problem);
        }

        public IObjectiveFunction Fork() => new Objective(problem) { Point = Point, Value = Value, Gradient = Gradient };

        public void EvaluateAt(Vector<double> point)
        {
            Point = point;
            (Value, Gradient) = problem.Evaluate(point);
        }
    }
}
