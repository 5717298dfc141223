using System.Diagnostics.Metrics;
using System.Text;
using AdCtr.Server.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace AdCtr.Server.Tests.Telemetry;

public sealed class MeterBridgeTests
{
    [Theory]
    [InlineData("dotnet.gc.collections", "{collection}", true, "dotnet_gc_collections_total", 1.0)]
    [InlineData("dotnet.gc.pause.time", "s", true, "dotnet_gc_pause_time_seconds_total", 1.0)]
    [InlineData("dotnet.process.memory.working_set", "By", false, "dotnet_process_memory_working_set_bytes", 1.0)]
    [InlineData("dotnet.assembly.count", "{assembly}", false, "dotnet_assembly_count_current", 1.0)]
    [InlineData("orleans-app-requests-latency", "ms", false, "orleans_app_requests_latency_seconds", 1e-3)]
    [InlineData("orleans-messaging-sent-bytes-total", "By", true, "orleans_messaging_sent_bytes_total", 1.0)]
    [InlineData("Grain.ActivationCount", null, false, "grain_activation_count_current", 1.0)]
    [InlineData("9lives", "min", false, "_9lives_seconds", 60.0)]
    public void PrometheusName_Instrument_GetsSnakeCaseBaseUnitAndTypeSuffix(string instrument, string? unit, bool counter, string expected, double scale)
    {
        var (name, factor) = MeterBridge.PrometheusName(instrument, unit, counter);
        Assert.Equal(expected, name);
        Assert.Equal(scale, factor);
    }

    [Fact]
    public async Task Bridge_EveryInstrumentKind_ExportsPrometheusTypesThatPassPromtool()
    {
        var meterName = "AdCtr.Tests.Bridge." + Guid.NewGuid().ToString("N");
        var registry = Prometheus.Metrics.NewCustomRegistry();
        using var meter = new Meter(meterName);
        using var bridge = new MeterBridge(registry, i => i.Meter.Name == meterName);
        var requests = meter.CreateCounter<long>("test.requests", "{request}", "Requests.");
        var latency = meter.CreateHistogram("test.latency", "ms", "Latency.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 10, 100] });
        var inFlight = meter.CreateUpDownCounter<int>("test.in_flight", "{request}", "In flight.");
        meter.CreateObservableGauge("test.queue.count", () => 7, "{item}", "Queue length.");
        meter.CreateObservableCounter("test.written", () => new Measurement<long>(4096, new KeyValuePair<string, object?>("file.kind", "log")), "By", "Bytes written.");
        requests.Add(2, new KeyValuePair<string, object?>("kind", "a"));
        requests.Add(3, new KeyValuePair<string, object?>("kind", "b"));
        requests.Add(1, new KeyValuePair<string, object?>("kind", "a"));
        latency.Record(5);
        latency.Record(50);
        inFlight.Add(3);
        inFlight.Add(-1);

        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        var text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.Contains("# TYPE test_requests_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("test_requests_total{kind=\"a\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("test_requests_total{kind=\"b\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_latency_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"0.01\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_bucket{le=\"0.1\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("test_latency_seconds_sum 0.055", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_in_flight gauge\ntest_in_flight 2\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_queue_count_current gauge\ntest_queue_count_current 7\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_written_bytes_total counter\ntest_written_bytes_total{file_kind=\"log\"} 4096\n", text, StringComparison.Ordinal);
        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exit == 0 && output.Length == 0, "promtool: " + output + "\n---\n" + text);
    }

    [Fact]
    public void IsExported_RuntimeAndThisServersOrleansMeters_Only()
    {
        using var mine = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = mine.GetRequiredService<IMeterFactory>();
        var otherFactory = other.GetRequiredService<IMeterFactory>();
        using var runtime = new Meter("System.Runtime");
        using var orleans = new Meter("Microsoft.Orleans");
        using var orleansPart = new Meter("Microsoft.Orleans.Streaming");
        using var lookalike = new Meter("Microsoft.OrleansExtras");
        using var aspnet = new Meter("Microsoft.AspNetCore.Hosting");
        Assert.True(MetricsRegistry.IsExported(runtime, factory));
        Assert.True(MetricsRegistry.IsExported(orleans, factory));
        Assert.True(MetricsRegistry.IsExported(orleansPart, factory));
        Assert.True(MetricsRegistry.IsExported(factory.Create("Microsoft.Orleans"), factory));
        Assert.False(MetricsRegistry.IsExported(otherFactory.Create("Microsoft.Orleans"), factory));
        Assert.False(MetricsRegistry.IsExported(factory.Create("AdCtr.Grains"), factory));
        Assert.False(MetricsRegistry.IsExported(lookalike, factory));
        Assert.False(MetricsRegistry.IsExported(aspnet, factory));
    }
}
