using AdCtr.Server.Model;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Telemetry;

/// <summary>
/// Gauges of the model, read from <see cref="CtrEngine"/>'s public members when the registry is collected
/// (nothing on the predict or learn path), and the progressive figures over a sliding window
/// (<see cref="ProgressiveWindow"/>), fed by the engine's progressive hook and rotated by a timer.
/// </summary>
internal sealed class ModelMetrics : IHostedService, IDisposable
{
    public const string VersionName = "adctr_model_version";
    public const string ActiveGrainsName = "adctr_grains_active";
    public const string WindowLogLossName = "adctr_progressive_window_log_loss";
    public const string WindowNormalizedEntropyName = "adctr_progressive_window_normalized_entropy";
    public const string WindowCalibrationName = "adctr_progressive_window_calibration_ratio";
    public const string WindowExamplesName = "adctr_progressive_window_examples";
    public const string WindowClicksName = "adctr_progressive_window_clicks";

    private readonly CtrEngine _engine;
    private readonly TimeProvider _time;
    private readonly TimeSpan _bucket;
    private System.Threading.ITimer? _timer;

    public ModelMetrics(MetricsRegistry registry, CtrEngine engine, IOptions<MetricsOptions> options, TimeProvider time)
    {
        _engine = engine;
        _time = time;
        var o = options.Value;
        _bucket = o.ProgressiveBucket;
        Window = new ProgressiveWindow(o.Buckets, o.ProgressiveBucket);
        var f = registry.Factory;
        var version = f.CreateGauge(VersionName, "Model version: examples the served model has learned (as in predict responses).");
        var campaigns = f.CreateGauge("adctr_model_campaigns", "Campaigns with a model (active or stored).");
        var grains = f.CreateGauge(ActiveGrainsName, "Campaign grains active in this process (the others are stored and reactivated on their next call).");
        var globalCoordinates = f.CreateGauge("adctr_model_global_coordinates", "Global model coordinates with state.");
        var globalBytes = f.CreateGauge("adctr_model_global_bytes", "Global model memory.");
        var campaignCoordinates = f.CreateGauge("adctr_model_campaign_coordinates", "Campaign model coordinates (active and stored).");
        var campaignBytes = f.CreateGauge("adctr_model_campaign_bytes", "Campaign model memory (active and stored).");
        f.CreateGauge("adctr_progressive_window_length_seconds", "Length of the sliding window of the adctr_progressive_window_* figures (AdCtr:Metrics:ProgressiveWindow).").Set(Window.Length.TotalSeconds);
        var examples = f.CreateGauge(WindowExamplesName, "Examples learned in the sliding window.");
        var clicks = f.CreateGauge(WindowClicksName, "Clicks (weighted) among the examples of the sliding window.");
        var logLoss = f.CreateGauge(WindowLogLossName, "Progressive log loss (natural log, per unit of weight) over the sliding window; NaN when empty.");
        var ne = f.CreateGauge(WindowNormalizedEntropyName, "Progressive normalized entropy (log loss over the entropy of the window's CTR) over the sliding window; NaN without clicks.");
        var calibration = f.CreateGauge(WindowCalibrationName, "Progressive calibration ratio (sum of predictions over clicks; 1 is perfect) over the sliding window; NaN without clicks.");
        registry.Registry.AddBeforeCollectCallback(() =>
        {
            version.Set(engine.ExamplesLearned);
            campaigns.Set(engine.KnownCampaigns);
            grains.Set(engine.ActiveCampaignGrains);
            globalCoordinates.Set(engine.Global.Coordinates);
            globalBytes.Set(engine.Global.MemoryBytes);
            var (c, b) = engine.CampaignModelSize();
            campaignCoordinates.Set(c);
            campaignBytes.Set(b);
            var w = Window.Read(_time.GetUtcNow());
            examples.Set(w.Examples);
            clicks.Set(w.Clicks);
            logLoss.Set(w.LogLoss);
            ne.Set(w.NormalizedEntropy);
            calibration.Set(w.CalibrationRatio);
        });
    }

    public ProgressiveWindow Window { get; }

    /// <summary>
    /// Runs after recovery (registered after the durability service): examples replayed from the log at start-up
    /// are not in the window, which holds what was learned live.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _engine.ProgressiveWindow = Window;
        _timer = _time.CreateTimer(static s => ((ModelMetrics)s!).Tick(), this, _bucket, _bucket);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
    }

    private void Tick() => Window.Rotate(_time.GetUtcNow());
}
