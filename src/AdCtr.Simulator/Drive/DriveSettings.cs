namespace AdCtr.Simulator.Drive;

/// <summary>How <see cref="DriveRunner"/> drives a server. Defaults are those of <c>adctr-sim drive</c>.</summary>
public sealed record DriveSettings
{
    /// <summary>Intended requests per second (open loop: request i is due at i / Rate); 0 = as fast as the in-flight bound allows.</summary>
    public double Rate { get; init; } = 200;

    /// <summary>No request is sent whose intended time is this long after the start (nor once this much time has passed).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>At most this many predict requests.</summary>
    public long MaxRequests { get; init; } = long.MaxValue;

    /// <summary>Predict requests in flight at once; when all are busy, sending lags behind schedule (and the lag counts in latency).</summary>
    public int MaxInFlight { get; init; } = 64;

    /// <summary>Per predict and per events call; a predict that takes longer counts as a timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Events are posted when this many are queued ...</summary>
    public int EventBatchSize { get; init; } = 1000;

    /// <summary>... or this long after the last post, whichever comes first.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Wall seconds per simulated second of click delay: a click with scenario delay d is sent d × scale after
    /// its impression. 1 (default) = the scenario's delays in real time.
    /// </summary>
    public double ClickDelayScale { get; init; } = 1;

    /// <summary>
    /// The server's attribution window (<c>AdCtr:Joiner:AttributionWindow</c>, default 15 min, from serving). Clicks
    /// whose scaled delay reaches it are not sent (the server would reject them as <c>click_after_window</c>) and
    /// are counted as beyond the window.
    /// </summary>
    public TimeSpan AttributionWindow { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Throws an <see cref="ArgumentException"/> whose message names the option for a value out of range.</summary>
    public void Validate()
    {
        Check(double.IsFinite(Rate) && Rate >= 0, "--rate", "must be a number >= 0 (0 = as fast as possible)");
        Check(Duration > TimeSpan.Zero, "--duration", "must be positive");
        Check(MaxRequests > 0, "--max-requests", "must be a positive number");
        Check(MaxInFlight is > 0 and <= 10_000, "--max-in-flight", "must be in 1..10000");
        Check(RequestTimeout > TimeSpan.Zero, "--timeout", "must be positive");
        Check(EventBatchSize is > 0 and <= 10_000, "--event-batch", "must be in 1..10000 (the server's MaxBatch default)");
        Check(FlushInterval > TimeSpan.Zero, "--flush-interval", "must be positive");
        Check(double.IsFinite(ClickDelayScale) && ClickDelayScale >= 0, "--click-delay-scale", "must be a number >= 0");
        Check(AttributionWindow > TimeSpan.Zero, "--attribution-window", "must be positive");
    }

    private static void Check(bool ok, string option, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(option + " " + message);
        }
    }
}
