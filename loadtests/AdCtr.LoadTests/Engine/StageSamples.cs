namespace AdCtr.LoadTests.Engine;

/// <summary>
/// The raw record of one stage: every request's outcome and latencies, in clock ticks. Latency runs from the
/// intended send time (open model) or from the send (closed model) to the end of the response; service time
/// from the actual send; send lag is how late the generator sent (actual minus intended).
/// </summary>
public sealed class StageSamples
{
    public StageSamples(LoadSimulation simulation, long frequency, long durationTicks, int[] codes, long[] latencyTicks, long[] serviceTicks, long[] sendLagTicks,
        long activeTicks = 0)
    {
        ActiveTicks = Math.Max(durationTicks, activeTicks);
        Simulation = simulation;
        Frequency = frequency;
        DurationTicks = durationTicks;
        Codes = codes;
        LatencyTicks = latencyTicks;
        ServiceTicks = serviceTicks;
        SendLagTicks = sendLagTicks;
    }

    public LoadSimulation Simulation { get; }

    public long Frequency { get; }

    /// <summary>The stage's planned duration (the denominator of the rates).</summary>
    public long DurationTicks { get; }

    /// <summary>From the stage start to the last completion, at least <see cref="DurationTicks"/>: the denominator of the achieved rate.</summary>
    public long ActiveTicks { get; }

    public int[] Codes { get; }

    public long[] LatencyTicks { get; }

    public long[] ServiceTicks { get; }

    public long[] SendLagTicks { get; }

    public int Count => Codes.Length;

    public double TicksToMs(long ticks) => ticks * 1000.0 / Frequency;
}

/// <summary>Periodic status of the running stage, for the live console.</summary>
public readonly record struct StageProgress(double ElapsedSeconds, long Sent, long Completed, long Errors, long InFlight);
