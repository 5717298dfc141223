using Microsoft.Extensions.Logging;

namespace AdCtr.Grains.Runtime;

/// <summary>Log messages of the grain runtime (event ids 1100-1199).</summary>
internal static partial class GrainRuntimeLog
{
    [LoggerMessage(1100, LogLevel.Debug, "Activated grain {GrainId}")]
    public static partial void Activated(ILogger logger, GrainId grainId);

    [LoggerMessage(1101, LogLevel.Warning, "Activation of grain {GrainId} failed; the calls queued meanwhile failed with the same exception")]
    public static partial void ActivationFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(1110, LogLevel.Debug, "Deactivated grain {GrainId}")]
    public static partial void Deactivated(ILogger logger, GrainId grainId);

    [LoggerMessage(1111, LogLevel.Error, "Deactivation of grain {GrainId} abandoned: its state could not be written; the activation stays active")]
    public static partial void DeactivationFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(1112, LogLevel.Warning, "OnDeactivateAsync of grain {GrainId} threw; the state is written anyway")]
    public static partial void OnDeactivateFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(1120, LogLevel.Warning, "A posted (fire-and-forget) turn of grain {GrainId} failed")]
    public static partial void PostTurnFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(1130, LogLevel.Debug, "Idle collection deactivated {Count} of {Candidates} activations")]
    public static partial void CollectionCompleted(ILogger logger, int count, int candidates);

    [LoggerMessage(1131, LogLevel.Error, "Idle collection failed")]
    public static partial void CollectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(1140, LogLevel.Critical, "The turn loop of grain {GrainId} failed; this is a bug in the grain runtime")]
    public static partial void DrainLoopFailed(ILogger logger, Exception exception, GrainId grainId);

    [LoggerMessage(1150, LogLevel.Information, "Grain runtime started: IdleTimeout {IdleTimeout}, CollectionInterval {CollectionInterval}, MaxTurnsPerSlice {MaxTurnsPerSlice}")]
    public static partial void Started(ILogger logger, TimeSpan idleTimeout, TimeSpan collectionInterval, int maxTurnsPerSlice);

    [LoggerMessage(1151, LogLevel.Information, "Grain runtime stopped: {Count} activations deactivated")]
    public static partial void Stopped(ILogger logger, int count);
}
