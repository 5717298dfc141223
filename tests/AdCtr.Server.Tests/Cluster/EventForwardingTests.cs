using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Durability;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;
using Xunit.Abstractions;
using static AdCtr.Server.Tests.Cluster.PostgreSqlDurabilityTests;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>
/// Events in a real two-process cluster on PostgreSQL (loopback): a prediction served by one silo and its impression
/// and click posted to the other are joined and learned by the serving silo.
/// </summary>
public sealed class EventForwardingTests(PostgreSqlServer postgres, ITestOutputHelper output) : IClassFixture<PostgreSqlServer>
{
    [Fact]
    public async Task PredictOnA_EventsPostedToB_AreJoinedAndLearnedOnA_AndADeadServingSiloIsAnOutcomeNotAnError()
    {
        var connectionString = postgres.CreateDatabase();
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        // B's grain calls time out after 10 s, so that the call to a killed A ends within the test's bounds; fast failure
        // detection (as SiloKillTests) so that A is declared dead within seconds.
        string[] fast = ["--AdCtr:Cluster:ProbeTimeout=00:00:01", "--AdCtr:Cluster:NumMissedProbesLimit=2"];
        await using var a = ServerProcess.Start(dirA.Path, DurableClusterArgs(connectionString, fast));
        await using var b = ServerProcess.Start(dirB.Path, DurableClusterArgs(connectionString, [.. fast, "--AdCtr:Grains:CallTimeout=00:00:10"]));
        using var clientA = new HttpClient { BaseAddress = await a.ListeningAsync(StartTimeout) };
        using var clientB = new HttpClient { BaseAddress = await b.ListeningAsync(StartTimeout) };
        await ReadyAsync(clientA, StartTimeout);
        await ReadyAsync(clientB, StartTimeout);
        await BothActiveAsync(clientB, StartTimeout);

        // A serves three candidates (campaigns c0, c1, c2).
        using var predicted = await clientA.PostAsync("/v1/predict", new StringContent(ExampleData.Probe(3), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
        using var prediction = JsonDocument.Parse(await predicted.Content.ReadAsStringAsync());
        var ids = prediction.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("impressionId").GetString()!).ToArray();

        // Posted to B: c0's impression and click, c1's impression, c2's click alone, an id no silo issued, a broken line.
        var body = new StringBuilder()
            .Append("{\"type\":\"impression\",\"impressionId\":\"").Append(ids[0]).Append("\"}\n")
            .Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[0]).Append("\"}\n")
            .Append("{\"type\":\"impression\",\"impressionId\":\"").Append(ids[1]).Append("\"}\n")
            .Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[2]).Append("\"}\n")
            .Append("{\"type\":\"click\",\"impressionId\":\"i0123456789abcdef\"}\n")
            .Append("{\"type\":\n")
            .ToString();
        var forwardWatch = Stopwatch.StartNew();
        var root = await PostEventsAsync(clientB, body);
        output.WriteLine("post to B with 5 events served by A: " + forwardWatch.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms (first call: grain activation on A)");
        Assert.Equal(3, root.GetProperty("accepted").GetInt32());
        Assert.Equal(1, root.GetProperty("positives").GetInt32());
        var rejected = root.GetProperty("rejected");
        Assert.Equal(1, rejected.GetProperty("click_without_impression").GetInt32());
        Assert.Equal(1, rejected.GetProperty("unknown_impression").GetInt32());
        Assert.Equal(1, rejected.GetProperty("invalid").GetInt32());
        Assert.Equal(
            ["4:click_without_impression", "5:unknown_impression", "6:invalid"],
            root.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("line").GetInt64() + ":" + l.GetProperty("outcome").GetString()).ToArray());

        // The positive is learned (journaled before the answer): c0 has one example, a click, seen from either silo.
        foreach (var client in new[] { clientA, clientB })
        {
            using var stats = JsonDocument.Parse(await client.GetStringAsync("/v1/campaigns/c0"));
            Assert.Equal(1, stats.RootElement.GetProperty("examples").GetInt64());
            Assert.Equal(1.0, stats.RootElement.GetProperty("clicks").GetDouble());
        }

        // A's joiner answered: the click again is a duplicate there, and A's metrics counted the forwarded events.
        forwardWatch.Restart();
        var again = await PostEventsAsync(clientB, "{\"type\":\"click\",\"impressionId\":\"" + ids[0] + "\"}\n");
        output.WriteLine("post to B with 1 event served by A, grain active: " + forwardWatch.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms");
        Assert.Equal("duplicate", again.GetProperty("lines")[0].GetProperty("outcome").GetString());
        var metricsA = await clientA.GetStringAsync("/metrics");
        Assert.Contains("type=\"click\",outcome=\"accepted\"} 1\n", metricsA, StringComparison.Ordinal);
        Assert.Contains("type=\"click\",outcome=\"duplicate\"} 1\n", metricsA, StringComparison.Ordinal);

        // A killed: c1's click posted to B is answered (200) with serving_silo_unavailable, within the call timeout.
        a.Kill();
        await a.WaitForExitAsync(StartTimeout);
        var watch = Stopwatch.StartNew();
        var dead = await PostEventsAsync(clientB, "{\"type\":\"impression\",\"impressionId\":\"" + ids[1] + "\"}\n{\"type\":\"click\",\"impressionId\":\"" + ids[1] + "\"}\n");
        output.WriteLine("post to B with 2 events served by the killed A: " + watch.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "took " + watch.Elapsed);
        Assert.Equal(0, dead.GetProperty("accepted").GetInt32());
        Assert.Equal(2, dead.GetProperty("rejected").GetProperty("serving_silo_unavailable").GetInt32());

        // Once the membership has declared A dead, B answers such events at once, without a call.
        await SiloStatusAsync(clientB, isThisSilo: false, "Dead", StartTimeout);
        watch.Restart();
        var declared = await PostEventsAsync(clientB, "{\"type\":\"click\",\"impressionId\":\"" + ids[1] + "\"}\n");
        output.WriteLine("post to B with 1 event served by A, declared dead: " + watch.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms");
        Assert.Equal(1, declared.GetProperty("rejected").GetProperty("serving_silo_unavailable").GetInt32());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), "took " + watch.Elapsed);
    }

    private static async Task<JsonElement> PostEventsAsync(HttpClient client, string ndjson)
    {
        using var response = await client.PostAsync("/v1/events", new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, response.StatusCode + ": " + text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static Task SiloStatusAsync(HttpClient client, bool isThisSilo, string status, TimeSpan timeout) =>
        Poll.UntilAsync(
            async () =>
            {
                // While a killed silo is not yet declared dead, /v1/cluster may answer 503 (its management call
                // fails): that is "not yet", not a failure.
                using var response = await client.GetAsync("/v1/cluster");
                if (!response.IsSuccessStatusCode)
                {
                    return "/v1/cluster " + (int)response.StatusCode;
                }

                using var cluster = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var silo = cluster.RootElement.GetProperty("silos").EnumerateArray()
                    .Where(s => s.GetProperty("isThisSilo").GetBoolean() == isThisSilo)
                    .Select(s => s.GetProperty("status").GetString())
                    .ToList();
                return silo.Contains(status) ? null : "no silo " + status + ": " + string.Join(",", silo);
            },
            timeout);

    /// <summary>Waits until this silo's membership view has two Active silos (it routes events by that view).</summary>
    private static Task BothActiveAsync(HttpClient client, TimeSpan timeout) =>
        Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync("/v1/cluster");
                if (!response.IsSuccessStatusCode)
                {
                    return "/v1/cluster " + (int)response.StatusCode;
                }

                using var cluster = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var active = cluster.RootElement.GetProperty("silos").EnumerateArray().Count(s => s.GetProperty("status").GetString() == "Active");
                return active == 2 ? null : active + " active silos";
            },
            timeout);
}
