using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.Batch;

/// <summary>Why <see cref="BatchLogisticTrainer.Train"/> stopped.</summary>
public enum BatchStopReason
{
    /// <summary>The gradient criterion was met.</summary>
    Converged,

    /// <summary>Nothing to fit: no rows, no weight, or no feature used. The weights are zero.</summary>
    NothingToLearn,

    /// <summary>The iteration budget ran out before the gradient criterion was met.</summary>
    MaximumIterations,

    /// <summary>
    /// The minimiser stopped early (line search failure, no descent direction, lack of progress) before the
    /// gradient criterion was met; the best point seen is returned.
    /// </summary>
    NoProgress,
}

/// <summary>A logistic regression model produced by <see cref="BatchLogisticTrainer"/>.</summary>
public sealed class BatchModel
{
    internal BatchModel(
        float[] weights,
        int iterations,
        int evaluations,
        double finalObjective,
        double gradientNorm,
        BatchStopReason stopReason,
        int activeFeatures,
        double seconds)
    {
        Weights = weights;
        Iterations = iterations;
        Evaluations = evaluations;
        FinalObjective = finalObjective;
        GradientNorm = gradientNorm;
        StopReason = stopReason;
        ActiveFeatures = activeFeatures;
        Seconds = seconds;
    }

    /// <summary>One weight per feature index (length Dimension); zero for indices absent from the data.</summary>
    public float[] Weights { get; }

    /// <summary>Dimension of the feature space.</summary>
    public int Dimension => Weights.Length;

    /// <summary>L-BFGS iterations run (one line search each).</summary>
    public int Iterations { get; }

    /// <summary>Objective and gradient evaluations (passes over the data).</summary>
    public int Evaluations { get; }

    /// <summary>Objective at the returned weights: sum_i c_i logloss_i + 0.5 * L2 * ||w||^2 (bias excluded).</summary>
    public double FinalObjective { get; }

    /// <summary>Euclidean norm of the objective's gradient divided by the total weight, at the returned weights.</summary>
    public double GradientNorm { get; }

    /// <summary>True when the gradient criterion was met.</summary>
    public bool Converged => StopReason is BatchStopReason.Converged or BatchStopReason.NothingToLearn;

    /// <summary>Why training stopped.</summary>
    public BatchStopReason StopReason { get; }

    /// <summary>Number of distinct feature indices seen in the data (the optimiser's dimension).</summary>
    public int ActiveFeatures { get; }

    /// <summary>Wall-clock training time in seconds.</summary>
    public double Seconds { get; }

    /// <summary>The logit sum_k w[idx[k]] * val[k]. Does not allocate.</summary>
    public double PredictLogit(ReadOnlySpan<int> idx, ReadOnlySpan<float> val)
    {
        if (idx.Length != val.Length)
        {
            ThrowLengthMismatch();
        }

        var w = Weights;
        double z = 0;
        for (var k = 0; k < idx.Length; k++)
        {
            var i = idx[k];
            if ((uint)i >= (uint)w.Length)
            {
                ThrowIndexOutOfRange();
            }

            z += (double)w[i] * val[k];
        }

        return z;
    }

    /// <summary>The click probability sigmoid(<see cref="PredictLogit"/>). Does not allocate.</summary>
    public double Predict(ReadOnlySpan<int> idx, ReadOnlySpan<float> val) => 1 / (1 + Math.Exp(-PredictLogit(idx, val)));

    [DoesNotReturn]
    private static void ThrowLengthMismatch() =>
        throw new ArgumentException("Indices and values must have the same length.", "val");

    [DoesNotReturn]
    private static void ThrowIndexOutOfRange() =>
        throw new ArgumentOutOfRangeException("idx", "Every index must lie in [0, Dimension).");
}
