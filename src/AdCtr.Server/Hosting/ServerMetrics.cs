using AdCtr.Server.Telemetry;
using Prometheus;

namespace AdCtr.Server.Hosting;

/// <summary>Where a batch of examples or events came in.</summary>
internal enum IngestionEndpoint
{
    Examples,
    Events,
}

/// <summary>What became of one posted batch.</summary>
internal enum IngestionResult
{
    /// <summary>Every line accepted.</summary>
    Accepted,

    /// <summary>Some lines accepted, some rejected.</summary>
    Partial,

    /// <summary>Nothing accepted: a malformed, empty, oversized or wrongly typed body, or every line rejected.</summary>
    Rejected,

    /// <summary>Not taken because the server was shutting down or its storage was failing (503, 507).</summary>
    Unavailable,
}

/// <summary>
/// The request-path instruments of the server, made with prometheus-net in the server's own registry. Names are
/// constants with units; labels are bounded enums with their children made once here (nothing is looked up per
/// request), never a campaign id. HTTP request counts and durations per endpoint come from
/// <see cref="HttpDurationMiddleware"/> (<see cref="MetricsHosting"/>).
/// </summary>
internal sealed class ServerMetrics
{
    public const string PredictionsName = "adctr_predictions_total";
    public const string ExamplesLearnedName = "adctr_examples_learned_total";
    public const string ExamplesRejectedName = "adctr_examples_rejected_total";
    public const string IngestionBatchesName = "adctr_ingestion_batches_total";

    private static readonly string[] EndpointNames = ["examples", "events"];
    private static readonly string[] ResultNames = ["accepted", "partial", "rejected", "unavailable"];

    private readonly Counter _predictions;
    private readonly Counter _learned;
    private readonly Counter _rejected;
    private readonly Counter.Child[] _batches;

    public ServerMetrics(MetricsRegistry registry)
    {
        var f = registry.Factory;
        _predictions = f.CreateCounter(PredictionsName, "Candidate ads scored by POST /v1/predict.");
        _learned = f.CreateCounter(ExamplesLearnedName, "Labeled examples learned (posted to /v1/examples or made by the joiner), each logged first when durability is on.");
        _rejected = f.CreateCounter(ExamplesRejectedName, "Lines of POST /v1/examples rejected as invalid (never learned).");
        var batches = f.CreateCounter(IngestionBatchesName, "Batches posted to /v1/examples and /v1/events, by endpoint and result (accepted, partial, rejected, unavailable: 503/507 at shutdown or on a storage fault).", ["endpoint", "result"]);
        _batches = new Counter.Child[EndpointNames.Length * ResultNames.Length];
        for (var e = 0; e < EndpointNames.Length; e++)
        {
            for (var r = 0; r < ResultNames.Length; r++)
            {
                // Children made up front: every series exists from the start (rate() sees the first batch), and
                // counting a batch is an array index.
                _batches[(e * ResultNames.Length) + r] = batches.WithLabels(EndpointNames[e], ResultNames[r]);
            }
        }
    }

    public void PredictionsServed(int count) => _predictions.Inc(count);

    public void ExamplesLearned(int count) => _learned.Inc(count);

    public void ExamplesRejected(int count)
    {
        if (count > 0)
        {
            _rejected.Inc(count);
        }
    }

    public void Batch(IngestionEndpoint endpoint, IngestionResult result) => _batches[((int)endpoint * ResultNames.Length) + (int)result].Inc();

    /// <summary>The result of a batch from its accepted and rejected line counts.</summary>
    public static IngestionResult ResultOf(int accepted, int rejected) =>
        accepted == 0 ? IngestionResult.Rejected : rejected == 0 ? IngestionResult.Accepted : IngestionResult.Partial;
}
