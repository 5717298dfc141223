using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using AdCtr.Server.Metrics;

namespace AdCtr.Server.Tests.Metrics;

public sealed class PrometheusExporterTests
{
    /// <summary>An exporter listening only to <paramref name="meterName"/> (names are unique per test, so parallel tests do not see each other).</summary>
    private static PrometheusExporter Exporter(string meterName, bool runtime = false, int maxSeries = 2000) =>
        new(new PrometheusExporterOptions { MeterPrefixes = [meterName], IncludeRuntimeMeter = runtime, MaxSeriesPerInstrument = maxSeries });

    [Fact]
    public void Collect_CounterGaugeHistogram_ExactText()
    {
        using var meter = new Meter("AdCtr.Tests.ExactText");
        using var exporter = Exporter(meter.Name);
        var requests = meter.CreateCounter<long>("requests", "{request}", "Requests served.");
        var queue = meter.CreateUpDownCounter<long>("queue.depth", "{item}", "Items queued.");
        var version = meter.CreateGauge<long>("model.version", null, "Model version in use.");
        var duration = meter.CreateHistogram("predict.duration", "s", "Time to score one request.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.01, 0.1] });
        meter.CreateObservableGauge("calibration.ratio", () => new Measurement<double>(0.97, new KeyValuePair<string, object?>("campaign", "c1")), "1", "Sum predicted over clicks.");

        requests.Add(3, new KeyValuePair<string, object?>("route", "/predict"));
        requests.Add(2, new KeyValuePair<string, object?>("route", "/events"));
        queue.Add(5);
        queue.Add(-2);
        version.Record(6);
        version.Record(7);
        // Values on the edges land in the bucket they bound (le is inclusive): 0.001 -> le 0.001, 0.01 -> le 0.01, 0.1 -> le 0.1.
        double[] values = [0.001, 0.005, 0.01, 0.1, 0.5];
        var sum = 0.0;
        foreach (var value in values)
        {
            duration.Record(value);
            sum += value;
        }

        var expected =
            "# HELP calibration_ratio Sum predicted over clicks.\n" +
            "# TYPE calibration_ratio gauge\n" +
            "calibration_ratio{campaign=\"c1\"} 0.97\n" +
            "# HELP model_version Model version in use.\n" +
            "# TYPE model_version gauge\n" +
            "model_version 7\n" +
            "# HELP predict_duration_seconds Time to score one request.\n" +
            "# TYPE predict_duration_seconds histogram\n" +
            "predict_duration_seconds_bucket{le=\"0.001\"} 1\n" +
            "predict_duration_seconds_bucket{le=\"0.01\"} 3\n" +
            "predict_duration_seconds_bucket{le=\"0.1\"} 4\n" +
            "predict_duration_seconds_bucket{le=\"+Inf\"} 5\n" +
            "predict_duration_seconds_sum " + sum.ToString("R", CultureInfo.InvariantCulture) + "\n" +
            "predict_duration_seconds_count 5\n" +
            "# HELP queue_depth Items queued.\n" +
            "# TYPE queue_depth gauge\n" +
            "queue_depth 3\n" +
            "# HELP requests_total Requests served.\n" +
            "# TYPE requests_total counter\n" +
            "requests_total{route=\"/events\"} 2\n" +
            "requests_total{route=\"/predict\"} 3\n";
        Assert.Equal(expected, exporter.Collect());
    }

    [Fact]
    public void Collect_MillisecondHistogram_ConvertedToSeconds()
    {
        using var meter = new Meter("AdCtr.Tests.Milliseconds");
        using var exporter = Exporter(meter.Name);
        var encode = meter.CreateHistogram("encode.time", "ms", "Encoding time.", null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 10] });
        encode.Record(5);

        var expected =
            "# HELP encode_time_seconds Encoding time.\n" +
            "# TYPE encode_time_seconds histogram\n" +
            "encode_time_seconds_bucket{le=\"0.001\"} 0\n" +
            "encode_time_seconds_bucket{le=\"0.01\"} 1\n" +
            "encode_time_seconds_bucket{le=\"+Inf\"} 1\n" +
            "encode_time_seconds_sum 0.005\n" +
            "encode_time_seconds_count 1\n";
        Assert.Equal(expected, exporter.Collect());
    }

    [Fact]
    public void Collect_HelpAndLabelValuesWithSpecialCharacters_Escaped()
    {
        using var meter = new Meter("AdCtr.Tests.Escaping");
        using var exporter = Exporter(meter.Name);
        var counter = meter.CreateCounter<int>("escapes", null, "Line one\nback\\slash \"quoted\"");
        counter.Add(1, new KeyValuePair<string, object?>("value", "a\"b\\c\nd"));

        var expected =
            "# HELP escapes_total Line one\\nback\\\\slash \"quoted\"\n" +
            "# TYPE escapes_total counter\n" +
            "escapes_total{value=\"a\\\"b\\\\c\\nd\"} 1\n";
        Assert.Equal(expected, exporter.Collect());
    }

    [Theory]
    [InlineData("http.server.request.duration", "http_server_request_duration")]
    [InlineData("9lives", "_9lives")]
    [InlineData("adCtr-Requests:x", "ad_ctr_requests_x")]
    [InlineData("a..b", "a_b")]
    [InlineData("ünïcode", "_n_code")]
    public void Sanitize_Names_MatchPrometheusCharset(string name, string expected)
    {
        Assert.Equal(expected, PrometheusNaming.Sanitize(name));
    }

    [Theory]
    [InlineData("requests", "{request}", true, "requests_total")]
    [InlineData("requests.total", null, true, "requests_total")]
    [InlineData("gc.pause.time", "s", true, "gc_pause_time_seconds_total")]
    [InlineData("working_set", "By", false, "working_set_bytes")]
    [InlineData("body.size.bytes", "By", false, "body_size_bytes")]
    [InlineData("latency", "ms", false, "latency_seconds")]
    [InlineData("throughput", "By/s", false, "throughput_bytes_per_second")]
    [InlineData("rate", "{event}/s", false, "rate_per_second")]
    [InlineData("ctr", "1", false, "ctr_ratio")]
    [InlineData("fraction_ratio", "1", false, "fraction_ratio")]
    [InlineData("dotnet.assembly.count", "{assembly}", false, "dotnet_assembly_count_current")]
    [InlineData("dotnet.gc.collections.count", "{collection}", true, "dotnet_gc_collections_count_total")]
    public void FamilyName_UnitsAndCounters_FollowConventions(string name, string? unit, bool counter, string expected)
    {
        var mapped = PrometheusNaming.MapUnit(unit, isGauge: !counter);
        Assert.Equal(expected, PrometheusNaming.FamilyName(name, mapped.Suffix, counter));
    }

    [Fact]
    public void Collect_TagsInAnyOrder_OneSeriesWithSortedLabels()
    {
        using var meter = new Meter("AdCtr.Tests.TagOrder");
        using var exporter = Exporter(meter.Name);
        var counter = meter.CreateCounter<long>("hits", null, "Hits.");
        counter.Add(1, new("b", "2"), new("a", "1"));
        counter.Add(1, new("a", "1"), new("b", "2"));
        counter.Add(1, new KeyValuePair<string, object?>("a", 1), new KeyValuePair<string, object?>("b", true), new KeyValuePair<string, object?>("c", 1.5));

        Assert.Equal(
            "# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total{a=\"1\",b=\"2\"} 2\nhits_total{a=\"1\",b=\"true\",c=\"1.5\"} 1\n",
            exporter.Collect());
    }

    [Fact]
    public void Record_ConcurrentFromManyThreads_SumsExactly()
    {
        const int Threads = 8;
        const int PerThread = 100_000;
        using var meter = new Meter("AdCtr.Tests.Concurrent");
        using var exporter = Exporter(meter.Name);
        var longCounter = meter.CreateCounter<long>("events", null, "Events.");
        var doubleCounter = meter.CreateCounter<double>("weight", null, "Weight.");
        var histogram = meter.CreateHistogram("size", null, "Sizes.", null, new InstrumentAdvice<long> { HistogramBucketBoundaries = [4, 9] });
        var tag = new KeyValuePair<string, object?>("kind", "a");
        using var start = new Barrier(Threads);
        var threads = new Thread[Threads];
        for (var t = 0; t < Threads; t++)
        {
            threads[t] = new Thread(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < PerThread; i++)
                {
                    longCounter.Add(1, tag);
                    doubleCounter.Add(0.5);
                    histogram.Record(i % 10);
                }
            });
            threads[t].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        var text = exporter.Collect();
        // 800,000 increments of 1; 800,000 halves = 400,000 (exact in binary floating point: every partial sum is a multiple of 0.5 below 2^52).
        Assert.Contains("events_total{kind=\"a\"} 800000\n", text, StringComparison.Ordinal);
        Assert.Contains("weight_total 400000\n", text, StringComparison.Ordinal);
        // i % 10: values 0..4 (5 of 10) are <= 4, 0..9 (all) are <= 9; sum per thread = 10,000 * 45 = 450,000.
        Assert.Contains("size_bucket{le=\"4\"} 400000\n", text, StringComparison.Ordinal);
        Assert.Contains("size_bucket{le=\"9\"} 800000\n", text, StringComparison.Ordinal);
        Assert.Contains("size_bucket{le=\"+Inf\"} 800000\n", text, StringComparison.Ordinal);
        Assert.Contains("size_sum 3600000\n", text, StringComparison.Ordinal);
        Assert.Contains("size_count 800000\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_ObservableStopsReportingSeries_SeriesDisappears()
    {
        using var meter = new Meter("AdCtr.Tests.Observable");
        using var exporter = Exporter(meter.Name);
        string[] campaigns = ["c1", "c2"];
        meter.CreateObservableGauge("active", () =>
        {
            var list = new List<Measurement<int>>();
            foreach (var campaign in campaigns)
            {
                list.Add(new Measurement<int>(1, new KeyValuePair<string, object?>("campaign", campaign)));
            }

            return list;
        }, null, "Active campaigns.");

        Assert.Contains("active{campaign=\"c2\"} 1\n", exporter.Collect(), StringComparison.Ordinal);
        campaigns = ["c1"];
        var text = exporter.Collect();
        Assert.Contains("active{campaign=\"c1\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("c2", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Record_MoreLabelSetsThanLimit_ExtraGoToOverflowSeries()
    {
        using var meter = new Meter("AdCtr.Tests.Overflow");
        using var exporter = Exporter(meter.Name, maxSeries: 2);
        var counter = meter.CreateCounter<long>("calls", null, "Calls.");
        for (var i = 0; i < 5; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("id", "x" + i));
        }

        Assert.Equal(
            "# HELP calls_total Calls.\n# TYPE calls_total counter\ncalls_total{id=\"x0\"} 1\ncalls_total{id=\"x1\"} 1\ncalls_total{otel_metric_overflow=\"true\"} 3\n",
            exporter.Collect());
    }

    [Fact]
    public void Collect_MeterDisposed_FamilyRemoved()
    {
        using var exporter = Exporter("AdCtr.Tests.Disposed");
        var meter = new Meter("AdCtr.Tests.Disposed");
        meter.CreateCounter<long>("gone", null, "Gone.").Add(1);
        Assert.Contains("gone_total 1", exporter.Collect(), StringComparison.Ordinal);
        meter.Dispose();
        Assert.Equal("", exporter.Collect());
    }

    [Fact]
    public async Task WriteToAsync_WithRuntimeMeter_PassesPromtoolLintWithoutProblems()
    {
        using var meter = new Meter("AdCtr.Tests.Promtool");
        using var exporter = Exporter(meter.Name, runtime: true);
        meter.CreateCounter<long>("predictions", "{prediction}", "Predictions served.").Add(10, new KeyValuePair<string, object?>("model.kind", "global"));
        meter.CreateCounter<double>("gc.pause", "ms", "Pause.").Add(1.5);
        meter.CreateUpDownCounter<int>("joiner.pending", "{impression}", "Pending impressions.").Add(4);
        meter.CreateHistogram<double>("request.duration", "s", "Request duration.").Record(0.02, new KeyValuePair<string, object?>("route", "/v1/predict"));
        meter.CreateHistogram<long>("batch.size", "{example}", "Batch size.").Record(1000);
        meter.CreateGauge<double>("calibration", "1", "Calibration ratio.").Record(1.01);
        meter.CreateObservableGauge("log.bytes", () => 12345L, "By", "Log size.");
        try
        {
            throw new InvalidOperationException("recorded by dotnet.exceptions");
        }
        catch (InvalidOperationException)
        {
        }

        using var buffer = new MemoryStream();
        await exporter.WriteToAsync(buffer, CancellationToken.None);
        var text = Encoding.UTF8.GetString(buffer.ToArray());
        Assert.Contains("# TYPE dotnet_gc_collections_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_thread_pool_thread_count_current gauge", text, StringComparison.Ordinal);

        var (exitCode, output) = await RunPromtoolAsync(text);
        Assert.True(exitCode == 0 && output.Length == 0, "promtool exit " + exitCode + ":\n" + output + "\n---\n" + text);
    }

    internal static async Task<(int ExitCode, string Output)> RunPromtoolAsync(string exposition)
    {
        const string Promtool = "/usr/bin/promtool";
        Assert.True(File.Exists(Promtool), "promtool not found: install the Debian package 'prometheus'");
        var info = new ProcessStartInfo(Promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }
}
