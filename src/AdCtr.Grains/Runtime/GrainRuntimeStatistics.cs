namespace AdCtr.Grains.Runtime;

/// <summary>
/// Counters of a <see cref="GrainRuntime"/> (or of one grain type). Exact when taken while no call is in
/// progress; otherwise each counter is a consistent value from some moment during the call.
/// </summary>
/// <param name="ActivationCount">Activations currently active.</param>
/// <param name="ActivationsCreated">Successful activations since start.</param>
/// <param name="ActivationFailures">Activation attempts that threw (storage read or OnActivateAsync).</param>
/// <param name="Deactivations">Completed deactivations since start.</param>
/// <param name="DeactivationFailures">Deactivations abandoned because the state could not be written.</param>
/// <param name="TurnsExecuted">Write turns executed (successful or not); reads are not turns.</param>
/// <param name="FailedTurns">Write turns that threw, plus turns failed because their activation failed.</param>
/// <param name="QueueLength">Write turns queued or running, over all activations.</param>
/// <param name="MaxQueueLength">The longest queue (queued or running turns) of one activation.</param>
public readonly record struct GrainRuntimeStatistics(
    long ActivationCount,
    long ActivationsCreated,
    long ActivationFailures,
    long Deactivations,
    long DeactivationFailures,
    long TurnsExecuted,
    long FailedTurns,
    long QueueLength,
    long MaxQueueLength)
{
    /// <summary>Sums two snapshots (the maximum queue length is the larger one).</summary>
    public static GrainRuntimeStatistics operator +(GrainRuntimeStatistics left, GrainRuntimeStatistics right) => new(
        left.ActivationCount + right.ActivationCount,
        left.ActivationsCreated + right.ActivationsCreated,
        left.ActivationFailures + right.ActivationFailures,
        left.Deactivations + right.Deactivations,
        left.DeactivationFailures + right.DeactivationFailures,
        left.TurnsExecuted + right.TurnsExecuted,
        left.FailedTurns + right.FailedTurns,
        left.QueueLength + right.QueueLength,
        Math.Max(left.MaxQueueLength, right.MaxQueueLength));

    public static GrainRuntimeStatistics Add(GrainRuntimeStatistics left, GrainRuntimeStatistics right) => left + right;
}
