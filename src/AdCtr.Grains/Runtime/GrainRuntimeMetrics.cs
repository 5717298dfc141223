using System.Diagnostics.Metrics;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// Names of the System.Diagnostics.Metrics instruments a <see cref="GrainRuntime"/> publishes on the
/// <see cref="Meter"/> passed to it. Every instrument is observable (read from the counters when collected,
/// nothing on the call path) and tagged with <see cref="GrainTypeTag"/> only: grain keys (campaign ids) are
/// never tags (unbounded cardinality).
/// </summary>
public static class GrainRuntimeMetrics
{
    /// <summary>Tag carrying the grain type name.</summary>
    public const string GrainTypeTag = "adctr.grain.type";

    /// <summary>Activations currently active (up-down counter).</summary>
    public const string Activations = "adctr.grains.activations";

    /// <summary>Successful activations since start (counter).</summary>
    public const string ActivationsCreated = "adctr.grains.activations.created";

    /// <summary>Failed activation attempts since start (counter).</summary>
    public const string ActivationFailures = "adctr.grains.activations.failed";

    /// <summary>Completed deactivations since start (counter).</summary>
    public const string Deactivations = "adctr.grains.deactivations";

    /// <summary>Deactivations abandoned because the state write failed (counter).</summary>
    public const string DeactivationFailures = "adctr.grains.deactivations.failed";

    /// <summary>Write turns executed (counter).</summary>
    public const string Turns = "adctr.grains.turns";

    /// <summary>Write turns that failed (counter).</summary>
    public const string FailedTurns = "adctr.grains.turns.failed";

    /// <summary>Write turns queued or running over all activations of a type (up-down counter).</summary>
    public const string QueueLength = "adctr.grains.queue.length";

    /// <summary>The longest queue of one activation of a type (gauge).</summary>
    public const string MaxQueueLength = "adctr.grains.queue.length.max";

    internal const string ActivationUnit = "{activation}";
    internal const string TurnUnit = "{turn}";

    internal static void Register(Meter meter, GrainRuntime runtime)
    {
        meter.CreateObservableUpDownCounter(Activations, () => Observe(runtime, static s => s.ActivationCount), ActivationUnit,
            "Grain activations currently active.");
        meter.CreateObservableCounter(ActivationsCreated, () => Observe(runtime, static s => s.ActivationsCreated), ActivationUnit,
            "Grain activations created since start.");
        meter.CreateObservableCounter(ActivationFailures, () => Observe(runtime, static s => s.ActivationFailures), ActivationUnit,
            "Grain activation attempts that failed.");
        meter.CreateObservableCounter(Deactivations, () => Observe(runtime, static s => s.Deactivations), ActivationUnit,
            "Grain activations deactivated (state written).");
        meter.CreateObservableCounter(DeactivationFailures, () => Observe(runtime, static s => s.DeactivationFailures), ActivationUnit,
            "Grain deactivations abandoned because the state could not be written.");
        meter.CreateObservableCounter(Turns, () => Observe(runtime, static s => s.TurnsExecuted), TurnUnit,
            "Grain write turns executed.");
        meter.CreateObservableCounter(FailedTurns, () => Observe(runtime, static s => s.FailedTurns), TurnUnit,
            "Grain write turns that failed.");
        meter.CreateObservableUpDownCounter(QueueLength, () => Observe(runtime, static s => s.QueueLength), TurnUnit,
            "Grain write turns queued or running.");
        meter.CreateObservableGauge(MaxQueueLength, () => Observe(runtime, static s => s.MaxQueueLength), TurnUnit,
            "Longest write-turn queue of one activation.");
    }

    private static Measurement<long>[] Observe(GrainRuntime runtime, Func<GrainRuntimeStatistics, long> select)
    {
        var directories = runtime.Directories;
        var measurements = new Measurement<long>[directories.Length];
        for (var i = 0; i < directories.Length; i++)
        {
            measurements[i] = new Measurement<long>(select(directories[i].GetStatistics()), directories[i].TypeTag);
        }

        return measurements;
    }
}
