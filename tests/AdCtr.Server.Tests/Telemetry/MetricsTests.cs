using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Telemetry;

/// <summary>
/// <c>GET /metrics</c> of real servers on loopback: what each figure counts, that servers in one process keep
/// their figures apart, and that the whole exposition passes <c>promtool check metrics</c> with no message.
/// </summary>
public sealed class MetricsTests
{
    private const string Context = """{"user_age":"25-34","device":"ios"}""";

    [Fact]
    public async Task Metrics_TwoServersInOneProcess_EachExportsOnlyItsOwnFigures()
    {
        await using var a = await LoopbackServer.StartAsync();
        await using var b = await LoopbackServer.StartAsync();
        await PostExamplesAsync(a, Examples("c1", 12));
        await PostExamplesAsync(b, Examples("c2", 5));
        await a.PredictAsync(Predict("c1", 3));

        var sa = await ScrapeAsync(a);
        var sb = await ScrapeAsync(b);
        Assert.Equal(12, sa["adctr_examples_learned_total"]);
        Assert.Equal(5, sb["adctr_examples_learned_total"]);
        Assert.Equal(3, sa["adctr_predictions_total"]);
        Assert.Equal(0, sb["adctr_predictions_total"]);
        Assert.Equal(12, sa["adctr_model_version"]);
        Assert.Equal(5, sb["adctr_model_version"]);
        Assert.Equal(1, sa["http_request_duration_seconds_count{code=\"2xx\",method=\"POST\",endpoint=\"/v1/predict\"}"]);
        Assert.DoesNotContain("http_request_duration_seconds_count{code=\"2xx\",method=\"POST\",endpoint=\"/v1/predict\"}", sb.Keys);
    }

    [Fact]
    public async Task Metrics_LiveServerAfterEveryKindOfTraffic_PassesPromtoolWithNoMessage()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Admin:ApiKey=k");
        await PostExamplesAsync(server, Examples("c1", 20));
        var ids = ImpressionIds(await server.PredictAsync(Predict("c1", 2)));
        using (await server.PostNdjsonAsync("/v1/events", Event("impression", ids[0]) + "\n" + Event("click", ids[0]) + "\n" + Event("click", ids[1]))) { }
        using (await server.PostNdjsonAsync("/v1/examples", "{not json")) { }
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/admin/snapshot"))
        {
            request.Headers.Add("X-Api-Key", "k");
            using var snapshot = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, snapshot.StatusCode);
        }

        var text = await server.Client.GetStringAsync("/metrics");
        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exit == 0 && output.Length == 0, "promtool: " + output + "\n---\n" + text);
        // Counters are counters, histograms histograms, gauges gauges; the runtime's meter comes through the bridge.
        Assert.Contains("# TYPE adctr_examples_learned_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE adctr_log_fsync_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE adctr_snapshot_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE adctr_progressive_window_calibration_ratio gauge", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_gc_heap_total_allocated_bytes_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_process_memory_working_set_bytes gauge", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE process_cpu_seconds_total counter", text, StringComparison.Ordinal);
        // Orleans' meters (the silo hosting the campaign grains) come through the bridge too.
        Assert.Contains("# TYPE orleans_catalog_activation_created_total counter", text, StringComparison.Ordinal);
        Assert.Contains("orleans_grains{grain_type=\"campaign\"}", text, StringComparison.Ordinal);
        Assert.DoesNotContain("campaign_id", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"c1\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingestion_BatchesAndLines_AreCountedByResult()
    {
        await using var server = await LoopbackServer.StartAsync();
        await PostExamplesAsync(server, Examples("c1", 4));
        using (await server.PostNdjsonAsync("/v1/examples", Examples("c1", 2) + "\n{\"campaignId\":\"c1\",\"label\":7}")) { }   // partial: 2 learned, 1 rejected
        using (await server.PostNdjsonAsync("/v1/examples", "{\"campaignId\":\"c1\",\"label\":7}")) { }                          // every line rejected
        using (await server.PostNdjsonAsync("/v1/examples", "[1,")) { }                                                          // malformed body
        using (await server.PostJsonAsync("/v1/events", "[{\"type\":\"impression\",\"impressionId\":\"i0000000000000000\"}]")) { } // never served: not accepted

        var s = await ScrapeAsync(server);
        Assert.Equal(6, s["adctr_examples_learned_total"]);
        Assert.Equal(2, s["adctr_examples_rejected_total"]);
        Assert.Equal(1, s[Batches("examples", "accepted")]);
        Assert.Equal(1, s[Batches("examples", "partial")]);
        Assert.Equal(2, s[Batches("examples", "rejected")]);
        Assert.Equal(0, s[Batches("examples", "unavailable")]);
        Assert.Equal(1, s[Batches("events", "rejected")]);
        Assert.Equal(1, s["adctr_joiner_events_total{type=\"impression\",outcome=\"unknown_impression\"}"]);
    }

    [Fact]
    public async Task Joiner_PendingAndUnmatchedClicks_AreCounted()
    {
        await using var server = await LoopbackServer.StartAsync();
        var ids = ImpressionIds(await server.PredictAsync(Predict("c1", 3)));
        Assert.Equal(3, (await ScrapeAsync(server))["adctr_joiner_pending"]);

        var body = string.Join('\n', Event("impression", ids[0]), Event("click", ids[0]), Event("click", ids[1]), Event("click", "i0000000000000000"));
        using (var response = await server.PostNdjsonAsync("/v1/events", body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var s = await ScrapeAsync(server);
        Assert.Equal(1, s["adctr_joiner_events_total{type=\"impression\",outcome=\"accepted\"}"]);
        Assert.Equal(1, s["adctr_joiner_events_total{type=\"click\",outcome=\"accepted\"}"]);
        Assert.Equal(1, s["adctr_joiner_events_total{type=\"click\",outcome=\"click_without_impression\"}"]);
        Assert.Equal(1, s["adctr_joiner_events_total{type=\"click\",outcome=\"unknown_impression\"}"]);
        Assert.Equal(1, s["adctr_joiner_examples_total{label=\"positive\"}"]);
        Assert.Equal(1, s[Batches("events", "partial")]);
    }

    [Fact]
    public async Task SnapshotAge_FollowsTheServerClock_AndRestartsAtEachSnapshot()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Admin:ApiKey=k", "--AdCtr:Durability:SnapshotInterval=00:02:00");
        var s = await ScrapeAsync(server);
        Assert.Equal(0, s["adctr_snapshot_age_seconds"]);
        Assert.Equal(120, s["adctr_snapshot_interval_seconds"]);

        server.Clock.Advance(TimeSpan.FromMinutes(7));   // the test's clock fires no timer: no scheduled snapshot
        Assert.Equal(420, (await ScrapeAsync(server))["adctr_snapshot_age_seconds"]);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/snapshot");
        request.Headers.Add("X-Api-Key", "k");
        using (var response = await server.Client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        s = await ScrapeAsync(server);
        Assert.Equal(0, s["adctr_snapshot_age_seconds"]);
        Assert.Equal(1, s["adctr_snapshots_written_total"]);
        Assert.Equal(1, s["adctr_snapshot_duration_seconds_count"]);
        Assert.True(s["adctr_snapshot_written_bytes_total"] > 0);
    }

    [Fact]
    public async Task ExampleLog_FsyncsAndBytes_AreCounted()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Storage:FsyncPolicy=always");
        await PostExamplesAsync(server, Examples("c1", 3));
        await PostExamplesAsync(server, Examples("c2", 4));

        var s = await ScrapeAsync(server);
        // FsyncPolicy always with one post at a time: one group commit, so one fsync, per post.
        Assert.Equal(2, s["adctr_log_fsync_duration_seconds_count"]);
        Assert.True(s["adctr_log_fsync_duration_seconds_sum"] > 0);
        // A fresh log: every byte of it was written by this process (records and headers).
        Assert.Equal(s["adctr_log_end_position_bytes"], s["adctr_log_written_bytes_total"]);
        Assert.Equal(s["adctr_log_end_position_bytes"], s["adctr_log_durable_position_bytes"]);
        Assert.True(s["adctr_log_written_bytes_total"] > 7 * 8, "7 records of 8-byte headers and a payload each");
    }

    [Fact]
    public async Task ProgressiveWindow_MatchesTheModelsFigures_ThenEmptiesWhenTheWindowPasses()
    {
        await using var server = await LoopbackServer.StartAsync();
        var body = new StringBuilder();
        for (var i = 0; i < 40; i++)
        {
            body.Append("{\"context\":").Append(Context).Append(",\"adId\":\"a").Append(i % 5).Append("\",\"campaignId\":\"c").Append(i % 2)
                .Append("\",\"label\":").Append(i % 5 == 0 ? 1 : 0).Append("}\n");
        }

        await PostExamplesAsync(server, body.ToString());
        var s = await ScrapeAsync(server);
        var progressive = JsonDocument.Parse(await server.Client.GetStringAsync("/v1/models")).RootElement.GetProperty("progressive");
        // Every example was learned live, within the window: the window's sums are the lifetime sums (added in
        // another order, hence the tolerance).
        Assert.Equal(40, s["adctr_progressive_window_examples"]);
        Assert.Equal(8, s["adctr_progressive_window_clicks"]);
        Assert.Equal(progressive.GetProperty("logLoss").GetDouble(), s["adctr_progressive_window_log_loss"], 12);
        Assert.Equal(progressive.GetProperty("normalizedEntropy").GetDouble(), s["adctr_progressive_window_normalized_entropy"], 12);
        Assert.Equal(progressive.GetProperty("calibrationRatio").GetDouble(), s["adctr_progressive_window_calibration_ratio"], 12);
        Assert.Equal(600, s["adctr_progressive_window_length_seconds"]);

        server.Clock.Advance(TimeSpan.FromMinutes(10));
        s = await ScrapeAsync(server);
        Assert.Equal(0, s["adctr_progressive_window_examples"]);
        Assert.True(double.IsNaN(s["adctr_progressive_window_log_loss"]));
        Assert.True(double.IsNaN(s["adctr_progressive_window_calibration_ratio"]));
    }

    [Fact]
    public async Task HttpDuration_RequestsOfEveryOutcome_CountedUnderPrometheusNetsLabelValues()
    {
        // The label values prometheus-net's HTTP middleware gave before the server's own replaced it: the status class
        // as "2xx", the method, the route pattern or "" when no endpoint matched (404; 405 is matched by a method-less
        // endpoint of its own, not a route).
        await using var server = await LoopbackServer.StartAsync();
        await server.PredictAsync(Predict("c1", 1));
        await server.PredictAsync(Predict("c1", 2));
        using (await server.PostJsonAsync("/v1/predict", "{not json")) { }
        using (await server.Client.GetAsync("/nothing-here")) { }
        using (await server.Client.GetAsync("/v1/predict")) { }
        using (await server.Client.GetAsync("/v1/campaigns/never-learned")) { }
        using (var put = await server.Client.PutAsync("/v1/predict", new StringContent("{}"))) { }

        var s = await ScrapeAsync(server);
        Assert.Equal(2, s["http_request_duration_seconds_count{code=\"2xx\",method=\"POST\",endpoint=\"/v1/predict\"}"]);
        Assert.Equal(1, s["http_request_duration_seconds_count{code=\"4xx\",method=\"POST\",endpoint=\"/v1/predict\"}"]);
        Assert.Equal(1, s["http_request_duration_seconds_count{code=\"4xx\",method=\"GET\",endpoint=\"/v1/campaigns/{id}\"}"]);
        Assert.Equal(2, s["http_request_duration_seconds_count{code=\"4xx\",method=\"GET\",endpoint=\"\"}"]); // 404 and 405
        Assert.Equal(1, s["http_request_duration_seconds_count{code=\"4xx\",method=\"PUT\",endpoint=\"\"}"]);
    }

    internal static async Task<Dictionary<string, double>> ScrapeAsync(LoopbackServer server)
    {
        var text = await server.Client.GetStringAsync("/metrics");
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            values[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return values;
    }

    private static string Batches(string endpoint, string result) => "adctr_ingestion_batches_total{endpoint=\"" + endpoint + "\",result=\"" + result + "\"}";

    private static string Examples(string campaign, int count) =>
        string.Join('\n', Enumerable.Range(0, count).Select(i => "{\"context\":" + Context + ",\"adId\":\"" + campaign + "-a\",\"campaignId\":\"" + campaign + "\",\"label\":" + (i % 3 == 0 ? 1 : 0) + "}"));

    private static string Predict(string campaign, int candidates) =>
        "{\"context\":" + Context + ",\"candidates\":[" + string.Join(',', Enumerable.Range(0, candidates).Select(i => "{\"adId\":\"a" + i + "\",\"campaignId\":\"" + campaign + "\"}")) + "]}";

    private static string Event(string type, string id) => "{\"type\":\"" + type + "\",\"impressionId\":\"" + id + "\"}";

    private static string[] ImpressionIds(JsonElement response) =>
        response.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("impressionId").GetString()!).ToArray();

    private static async Task PostExamplesAsync(LoopbackServer server, string ndjson)
    {
        using var response = await server.PostNdjsonAsync("/v1/examples", ndjson);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
