using AdCtr.Server.Model;
using AdCtr.Server.Telemetry;
using Prometheus;

namespace AdCtr.Server.Cluster;

/// <summary>
/// Instruments of the replicas of remote campaign models (<see cref="CampaignReplicas"/>, cluster only), made with
/// prometheus-net in the server's registry: the age of each replica a prediction reads (its staleness, a histogram),
/// the oldest age among replicas read since the last refresh (a gauge), how many are held, and the store's calls.
/// </summary>
internal sealed class ReplicaMetrics : IReplicaAgeObserver
{
    public const string AgeAtServeName = "adctr_replica_age_at_serve_seconds";
    public const string OldestAgeName = "adctr_replica_oldest_age_seconds";
    public const string CountName = "adctr_replicas";
    public const string FetchesName = "adctr_replica_fetches_total";
    public const string RefreshesName = "adctr_replica_refreshes_total";
    public const string FailuresName = "adctr_replica_refresh_failures_total";
    public const string DroppedName = "adctr_replica_dropped_total";

    /// <summary>Age buckets in seconds around the refresh interval (default 1 s): a healthy replica is under interval + one call.</summary>
    private static readonly double[] AgeBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60];

    private readonly Histogram _ageAtServe;

    public ReplicaMetrics(MetricsRegistry registry, CampaignReplicas replicas)
    {
        var f = registry.Factory;
        _ageAtServe = f.CreateHistogram(AgeAtServeName, "Age of the replica of a remote campaign's model when a prediction read it (now minus when its refresh call was sent): the staleness served.", new HistogramConfiguration { Buckets = AgeBuckets });
        var oldest = f.CreateGauge(OldestAgeName, "Oldest age, in seconds, among the replicas predictions read since the last refresh pass (0 with none).");
        var count = f.CreateGauge(CountName, "Replicas of remote campaign models this silo holds.");
        var fetches = f.CreateCounter(FetchesName, "Replicas fetched because a prediction found none (one grain call each).");
        var refreshes = f.CreateCounter(RefreshesName, "Replica refresh calls answered (one per read replica per refresh interval).");
        var failures = f.CreateCounter(FailuresName, "Replica refresh calls that failed (the older replica is kept and served; retried at the next pass).");
        var dropped = f.CreateCounter(DroppedName, "Replicas dropped: not read for ReplicaDropAfter, beyond MaxReplicas, or their campaign became active on this silo.");
        registry.Registry.AddBeforeCollectCallback(() =>
        {
            oldest.Set(replicas.OldestReadAgeSeconds());
            count.Set(replicas.Count);
            fetches.IncTo(replicas.Fetches);
            refreshes.IncTo(replicas.Refreshes);
            failures.IncTo(replicas.RefreshFailures);
            dropped.IncTo(replicas.Dropped);
        });
    }

    public void Served(double ageSeconds) => _ageAtServe.Observe(ageSeconds);
}
