using System.Diagnostics;
using System.Diagnostics.Metrics;
using AdCtr.Server.Model;

namespace AdCtr.Server.Hosting;

/// <summary>
/// The server's instruments, on one <see cref="Meter"/> from <see cref="IMeterFactory"/>. Names are constants
/// with units; tags are bounded (endpoint and status class, never a campaign id).
/// </summary>
internal sealed class ServerMetrics
{
    public const string MeterName = "AdCtr.Server";
    public const string RequestsName = "adctr.http.requests";
    public const string RequestDurationName = "adctr.http.request.duration";
    public const string PredictionsName = "adctr.predictions";
    public const string ExamplesName = "adctr.examples.learned";
    public const string ExamplesRejectedName = "adctr.examples.rejected";

    /// <summary>Latency buckets in seconds: 100 µs to 2.5 s.</summary>
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _predictions;
    private readonly Counter<long> _examples;
    private readonly Counter<long> _rejected;

    public ServerMetrics(IMeterFactory factory, CtrEngine engine)
    {
        Meter = factory.Create(MeterName);
        _requests = Meter.CreateCounter<long>(RequestsName, "{request}", "HTTP requests handled, by endpoint and status class");
        _duration = Meter.CreateHistogram(RequestDurationName, "s", "HTTP request duration, by endpoint", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _predictions = Meter.CreateCounter<long>(PredictionsName, "{prediction}", "Candidate ads scored");
        _examples = Meter.CreateCounter<long>(ExamplesName, "{example}", "Labeled examples learned");
        _rejected = Meter.CreateCounter<long>(ExamplesRejectedName, "{example}", "Example lines rejected as invalid");
        Meter.CreateObservableGauge("adctr.model.global.coordinates", () => engine.Global.Coordinates, "{coordinate}", "Global model coordinates with state");
        Meter.CreateObservableGauge("adctr.model.global.size", () => engine.Global.MemoryBytes, "By", "Global model memory");
        Meter.CreateObservableGauge("adctr.model.campaign.coordinates", () => engine.CampaignModelSize().Coordinates, "{coordinate}", "Campaign model coordinates (active and stored)");
        Meter.CreateObservableGauge("adctr.model.campaign.size", () => engine.CampaignModelSize().Bytes, "By", "Campaign model memory (active and stored)");
        Meter.CreateObservableGauge("adctr.model.campaigns", () => engine.KnownCampaigns, "{campaign}", "Campaigns with a model");
        Meter.CreateObservableGauge("adctr.progressive.log_loss", () => Finite(engine.GlobalStatistics().LogLoss), "1", "Progressive log loss over every example learned");
        Meter.CreateObservableGauge("adctr.progressive.calibration_ratio", () => Finite(engine.GlobalStatistics().CalibrationRatio), "1", "Sum of progressive predictions over clicks (1 is perfect)");
    }

    public Meter Meter { get; }

    public void PredictionsServed(int count) => _predictions.Add(count);

    public void ExamplesLearned(int accepted, int rejected)
    {
        _examples.Add(accepted);
        if (rejected > 0)
        {
            _rejected.Add(rejected);
        }
    }

    /// <summary>Records one request; <paramref name="endpoint"/> is a route pattern (bounded set).</summary>
    public void Request(string endpoint, int status, long startTimestamp)
    {
        if (!_requests.Enabled && !_duration.Enabled)
        {
            return;
        }

        var statusClass = status switch
        {
            < 300 => "2xx",
            < 400 => "3xx",
            < 500 => "4xx",
            _ => "5xx",
        };
        var tags = new TagList { { "endpoint", endpoint }, { "status", statusClass } };
        _requests.Add(1, tags);
        _duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));
    }

    private static double Finite(double v) => double.IsFinite(v) ? v : 0;
}
