using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AdCtr.Server.Joiner;

/// <summary>Instruments of the joiner (meter <c>AdCtr.Joiner</c>); tags are bounded enums, never ids.</summary>
internal sealed class JoinerMetrics
{
    public const string MeterName = "AdCtr.Joiner";

    private static readonly string[] OutcomeNames = ["accepted", "duplicate", "click_without_impression", "click_after_window", "impression_after_window", "unknown_impression", "invalid"];

    private readonly Counter<long> _events;
    private readonly Counter<long> _examples;
    private readonly Counter<long> _expired;
    private readonly Counter<long> _downsampled;
    private readonly Counter<long> _sweepFailures;

    public JoinerMetrics(IMeterFactory factory, Func<ImpressionJoiner?> joiner)
    {
        var meter = factory.Create(MeterName);
        _events = meter.CreateCounter<long>("adctr.joiner.events", "{event}", "Impression and click events, by type and outcome (accepted, duplicate, or why not learned)");
        _examples = meter.CreateCounter<long>("adctr.joiner.examples", "{example}", "Examples the joiner produced, by label");
        _expired = meter.CreateCounter<long>("adctr.joiner.expired", "{prediction}", "Served predictions forgotten, by cause (window, or early when memory was full)");
        _downsampled = meter.CreateCounter<long>("adctr.joiner.negatives_downsampled", "{example}", "Negatives dropped by negative downsampling");
        _sweepFailures = meter.CreateCounter<long>("adctr.joiner.sweep_failures", "{sweep}", "Expiry sweeps that failed to ingest their negatives");
        meter.CreateObservableGauge("adctr.joiner.pending", () => joiner()?.PendingCount ?? 0, "{prediction}", "Served predictions remembered for joining");
    }

    public static string OutcomeName(EventOutcome outcome) => OutcomeNames[(int)outcome];

    public void Event(EventType type, EventOutcome outcome)
    {
        if (_events.Enabled)
        {
            _events.Add(1, new TagList { { "type", type == EventType.Click ? "click" : "impression" }, { "outcome", OutcomeNames[(int)outcome] } });
        }
    }

    public void Examples(int positives, int negatives)
    {
        if (positives > 0)
        {
            _examples.Add(positives, new KeyValuePair<string, object?>("label", "positive"));
        }

        if (negatives > 0)
        {
            _examples.Add(negatives, new KeyValuePair<string, object?>("label", "negative"));
        }
    }

    public void Expired(bool early) => _expired.Add(1, new KeyValuePair<string, object?>("cause", early ? "memory" : "window"));

    public void Downsampled() => _downsampled.Add(1);

    public void SweepFailed() => _sweepFailures.Add(1);
}
