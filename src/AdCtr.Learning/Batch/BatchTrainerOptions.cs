namespace AdCtr.Learning.Batch;

/// <summary>Settings of <see cref="BatchLogisticTrainer"/>.</summary>
public sealed class BatchTrainerOptions
{
    /// <summary>
    /// L2 strength lambda: the objective is sum_i c_i logloss_i + 0.5 * lambda * ||w||^2 over the summed
    /// (not averaged) weighted loss. Default 1.0. Zero is allowed but then the optimum may not exist
    /// (separable data, one class only) and the trainer stops without converging.
    /// </summary>
    public double L2 { get; set; } = 1.0;

    /// <summary>Maximum L-BFGS iterations. Default 200.</summary>
    public int MaxIterations { get; set; } = 200;

    /// <summary>
    /// Convergence threshold on the Euclidean norm of the gradient of the objective divided by the total
    /// example weight (the mean-loss scale, so the threshold does not grow with the dataset). Default 1e-6.
    /// </summary>
    public double GradientTolerance { get; set; } = 1e-6;

    /// <summary>Number of (step, gradient change) pairs L-BFGS keeps. Default 10.</summary>
    public int Memory { get; set; } = 10;

    /// <summary>Index of a bias (intercept) coordinate that is not regularised, or null. Default null.</summary>
    public int? BiasIndex { get; set; }

    /// <summary>
    /// Number of row partitions evaluated in parallel (each with its own gradient buffer, summed in a fixed
    /// order so results are deterministic for a given value). Default: the processor count, at most 8.
    /// Small datasets (under 4096 rows per partition) use fewer partitions.
    /// </summary>
    public int MaxDegreeOfParallelism { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (!(L2 >= 0) || !double.IsFinite(L2))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), "L2 must be finite and non-negative.");
        }

        if (!(GradientTolerance > 0) || !double.IsFinite(GradientTolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(GradientTolerance), "The gradient tolerance must be positive.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Memory, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDegreeOfParallelism, 1);
        if (BiasIndex is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BiasIndex), "The bias index must be non-negative.");
        }
    }
}
