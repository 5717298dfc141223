using AdCtr.Server.Telemetry;
using Prometheus;

namespace AdCtr.Server.Cluster;

/// <summary>Receives the outcome of every journal append (the cluster's metrics).</summary>
internal interface IJournalObserver
{
    void Appended(double seconds, int examples);

    void Failed();
}

/// <summary>
/// Instruments of durability in a cluster, made with prometheus-net in the server's registry: journal appends (latency,
/// examples, failures), batches acknowledged before every campaign learned them (202), and whether PostgreSQL is usable.
/// </summary>
internal sealed class ClusterMetrics : IJournalObserver
{
    public const string AppendDurationName = "adctr_journal_append_duration_seconds";
    public const string AppendedName = "adctr_journal_appended_examples_total";
    public const string FailuresName = "adctr_journal_append_failures_total";
    public const string UnlearnedName = "adctr_journal_unlearned_batches_total";
    public const string UpName = "adctr_journal_up";
    public const string SlicesAheadName = "adctr_journal_slices_ahead_total";
    public const string GapReadsName = "adctr_journal_gap_reads_total";

    /// <summary>Append buckets in seconds: 0.5 ms (loopback, no fsync) to 10 s (JournalTimeout's default).</summary>
    private static readonly double[] AppendBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Histogram _append;
    private readonly Counter _appended;
    private readonly Counter _failures;
    private readonly Counter _unlearned;

    public ClusterMetrics(MetricsRegistry registry, PostgreSqlJournal journal, AdCtr.Grains.Journal.CampaignDurability durability)
    {
        var f = registry.Factory;
        _append = f.CreateHistogram(AppendDurationName, "Time of one batch's journal statement in PostgreSQL (one round trip and commit), successful ones.", new HistogramConfiguration { Buckets = AppendBuckets });
        _appended = f.CreateCounter(AppendedName, "Examples committed to the PostgreSQL journal (acknowledged as durable).");
        _failures = f.CreateCounter(FailuresName, "Batches whose journal statement failed (PostgreSQL unavailable): answered 503, nothing acknowledged.");
        _unlearned = f.CreateCounter(UnlearnedName, "Journaled batches answered 202: durable, but some campaign had not learned them when the learn retries ran out.");
        var up = f.CreateGauge(UpName, "1 while the last use of PostgreSQL (journal, checkpoint or probe) succeeded, else 0.");
        var ahead = f.CreateCounter(SlicesAheadName, "Learn calls of this silo's campaign grains that arrived ahead of an earlier journal position and waited for it (AdCtr:Cluster:GapWait).");
        var gapReads = f.CreateCounter(GapReadsName, "Journal reads by this silo's campaign grains outside activation: a wait that ran out, or a sync (statistics).");
        registry.Registry.AddBeforeCollectCallback(() =>
        {
            up.Set(journal.Failure is null ? 1 : 0);
            ahead.IncTo(durability.SlicesAhead);
            gapReads.IncTo(durability.GapReads);
        });
        journal.Observer = this;
    }

    public void Appended(double seconds, int examples)
    {
        _append.Observe(seconds);
        _appended.Inc(examples);
    }

    public void Failed() => _failures.Inc();

    public void Unlearned() => _unlearned.Inc();
}
