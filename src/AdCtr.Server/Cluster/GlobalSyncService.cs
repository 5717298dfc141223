using AdCtr.Grains.GlobalSync;
using AdCtr.Server.Api;
using AdCtr.Server.Model;
using AdCtr.Server.Telemetry;
using Prometheus;

namespace AdCtr.Server.Cluster;

/// <summary>
/// In a cluster, exchanges this silo's global-model terms with the other silos through <see cref="IGlobalModelGrain"/>
/// every <c>AdCtr:Cluster:GlobalSyncInterval</c> (default 1 s): one call per silo per interval, whatever the ingestion
/// rate. A failed exchange keeps the terms for the next one; the lag (time since the last exchange that completed) is
/// exported as <see cref="LagName"/>.
/// </summary>
internal sealed partial class GlobalSyncService(
    CtrEngine engine, IGrainFactory grains, ILocalSiloDetails local, AdCtr.Server.Hosting.AdCtrClusterOptions options, TimeProvider time, MetricsRegistry registry, ILogger<GlobalSyncService> logger)
    : BackgroundService
{
    public const string LagName = "adctr_global_sync_lag_seconds";
    public const string PushedName = "adctr_global_sync_pushed_coordinates_total";
    public const string ReceivedName = "adctr_global_sync_received_coordinates_total";
    public const string FailuresName = "adctr_global_sync_failures_total";

    private readonly GlobalModelSync _sync = new(
        engine.Silo, grains, local.SiloAddress.ToParsableString(), report: () => engine.Replicas is { } r ? new SiloReport(r.Count, r.OldestReadAgeSeconds()) : null);
    private readonly Gauge _lag = registry.Factory.CreateGauge(LagName, "Seconds since this silo's global model last exchanged its learning with the other silos' (the cluster's global sync lag).");
    private readonly Counter _pushed = registry.Factory.CreateCounter(PushedName, "Global-model coordinates this silo sent to the other silos (per-coordinate sums, one per exchange).");
    private readonly Counter _received = registry.Factory.CreateCounter(ReceivedName, "Global-model coordinates received from the other silos (a join counts the whole table).");
    private readonly Counter _failures = registry.Factory.CreateCounter(FailuresName, "Global-model exchanges that failed (their terms are sent with the next one).");
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private bool _failing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.GlobalSyncInterval, time);
        // Bounded by the host: the loop ends when the silo stops.
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await ExchangeOnceAsync().ConfigureAwait(false);
        }
    }

    internal async Task ExchangeOnceAsync()
    {
        try
        {
            var result = await _sync.ExchangeAsync().ConfigureAwait(false);
            _pushed.Inc(result.Pushed);
            _received.Inc(result.Received);
            if (_failing)
            {
                _failing = false;
                Log.Recovered(logger);
            }
        }
        catch (Exception e) when (GrainFailures.IsUnavailable(e) || e is OrleansException)
        {
            _failures.Inc();
            if (!_failing)
            {
                _failing = true;
                Log.Failed(logger, e);
            }
        }

        _lag.Set((time.GetUtcNow() - (_sync.LastSync ?? _started)).TotalSeconds);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Global model sync with the other silos failed; retrying every interval (further failures are not logged until it recovers)")]
        public static partial void Failed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Global model sync with the other silos works again")]
        public static partial void Recovered(ILogger logger);
    }
}
