using Microsoft.Extensions.Options;
using Prometheus;

namespace AdCtr.Server.Telemetry;

/// <summary>Registers the server's metrics and maps <c>GET /metrics</c> (prometheus-net.AspNetCore).</summary>
internal static class MetricsHosting
{
    public const string HttpDurationName = "http_request_duration_seconds";

    /// <summary>HTTP latency buckets in seconds, 100 µs to 10 s; 0.01 is a bound so that "p99 over 10 ms" is read at a bucket edge.</summary>
    private static readonly double[] HttpBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

    public static IServiceCollection AddAdCtrMetrics(this IServiceCollection services)
    {
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();
        services.AddSingleton<MetricsRegistry>();
        services.AddSingleton<ModelMetrics>();
        return services;
    }

    /// <summary>Hosted service that attaches the progressive window; register it after recovery (the durability service).</summary>
    public static IServiceCollection AddAdCtrModelMetricsLifetime(this IServiceCollection services) =>
        services.AddHostedService(sp => sp.GetRequiredService<ModelMetrics>());

    /// <summary>
    /// prometheus-net's HTTP middleware (per-endpoint request counts and durations) in this server's registry. Resolves
    /// nothing that depends on the engine: the model's gauges are made when the hosted services start, after the
    /// data directory was checked.
    /// </summary>
    public static WebApplication UseAdCtrHttpMetrics(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<MetricsRegistry>();
        app.UseHttpMetrics(options =>
        {
            options.ConfigureMeasurements(m =>
            {
                m.Registry = registry.Registry;
                m.ExemplarPredicate = static _ => false;
            });
            options.ReduceStatusCodeCardinality();

            // One histogram per request, nothing else: its _count is the request counter (the separate
            // http_requests_received_total repeated it) and the in-progress gauge cost a second label lookup and two
            // interlocked updates per request; exemplars read the trace context, which no exporter here uses. The
            // three together were about 5 % of a predict-1 request's CPU in a profile.
            options.RequestCount.Enabled = false;
            options.InProgress.Enabled = false;
            options.RequestDuration.Histogram = registry.Factory.CreateHistogram(
                HttpDurationName,
                "Duration of HTTP requests, by endpoint (route pattern), method and status class.",
                ["code", "method", "endpoint"],
                new HistogramConfiguration { Buckets = HttpBuckets, ExemplarBehavior = ExemplarBehavior.NoExemplars() });
        });
        return app;
    }

    /// <summary>Maps <c>GET /metrics</c>: the server's registry in the Prometheus text format.</summary>
    public static IEndpointConventionBuilder MapAdCtrMetrics(this IEndpointRouteBuilder routes) =>
        routes.MapMetrics("/metrics", routes.ServiceProvider.GetRequiredService<MetricsRegistry>().Registry);
}
