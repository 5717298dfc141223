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
    /// The HTTP duration histogram (<see cref="HttpDurationMiddleware"/>) in this server's registry. Resolves nothing
    /// that depends on the engine: the model's gauges are made when the hosted services start, after the data
    /// directory was checked.
    /// </summary>
    public static WebApplication UseAdCtrHttpMetrics(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<MetricsRegistry>();

        // One histogram per request, nothing else: its _count is the request counter (prometheus-net's separate
        // http_requests_received_total repeated it) and its in-progress gauge cost a second label lookup and two
        // interlocked updates per request; no exemplars (they read the trace context, which no exporter here uses).
        var histogram = registry.Factory.CreateHistogram(
            HttpDurationName,
            "Duration of HTTP requests, by endpoint (route pattern), method and status class.",
            ["code", "method", "endpoint"],
            new HistogramConfiguration { Buckets = HttpBuckets, ExemplarBehavior = ExemplarBehavior.NoExemplars() });
        app.UseMiddleware<HttpDurationMiddleware>(histogram);
        return app;
    }

    /// <summary>Maps <c>GET /metrics</c>: the server's registry in the Prometheus text format.</summary>
    public static IEndpointConventionBuilder MapAdCtrMetrics(this IEndpointRouteBuilder routes) =>
        routes.MapMetrics("/metrics", routes.ServiceProvider.GetRequiredService<MetricsRegistry>().Registry);
}
