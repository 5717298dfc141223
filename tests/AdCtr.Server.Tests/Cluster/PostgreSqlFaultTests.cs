using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>
/// PostgreSQL going away under a running durable cluster silo: examples are refused (503, nothing acknowledged),
/// predictions go on from memory, readiness says why; when PostgreSQL is back, so is the silo. Its own PostgreSQL
/// (a class fixture of its own), because the test stops it.
/// </summary>
public sealed class PostgreSqlFaultTests(PostgreSqlServer postgres) : IClassFixture<PostgreSqlServer>
{
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(30);

    private const string PredictBody =
        """{"requestId":"r1","context":{"user_age":"25-34","device":"d0"},"candidates":[{"adId":"c1-a1","campaignId":"c1","features":{"ad_category":"travel"}}]}""";

    [Fact]
    public async Task PostgreSqlStopped_Examples503NothingAcknowledged_PredictServes_NotReadyWithReason_ThenRecovers()
    {
        var connectionString = postgres.CreateDatabase();
        using var dir = new TempDirectory();
        await using var server = ServerProcess.Start(dir.Path, PostgreSqlDurabilityTests.DurableClusterArgs(connectionString));
        using var client = new HttpClient { BaseAddress = await server.ListeningAsync(PostgreSqlDurabilityTests.StartTimeout) };
        await PostgreSqlDurabilityTests.ReadyAsync(client, PostgreSqlDurabilityTests.StartTimeout);
        Assert.Equal(HttpStatusCode.OK, (await PostgreSqlDurabilityTests.PostAsync(client, PostgreSqlDurabilityTests.Lines(("c1", 4)), "k1")).StatusCode);
        var before = await PredictAsync(client);

        postgres.Stop();
        try
        {
            // Examples: 503 problem+json with Retry-After; the batch is neither journaled nor learned.
            using (var refused = await PostgreSqlDurabilityTests.PostAsync(client, PostgreSqlDurabilityTests.Lines(("c1", 3)), "k2"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
                using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
                Assert.Equal("durable store unavailable", problem.RootElement.GetProperty("title").GetString());
                Assert.Contains("nothing of this batch was acknowledged", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }

            // Predictions are served from the silo's memory, unchanged (nothing was learned).
            Assert.Equal(before, await PredictAsync(client));

            // Readiness: not ready, and why.
            using (var ready = await client.GetAsync("/health/ready"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
                using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
                Assert.Equal("not ready", report.RootElement.GetProperty("status").GetString());
                Assert.StartsWith("PostgreSQL (Host=127.0.0.1;", report.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
                Assert.Contains("is unreachable", report.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
            }

            // Metrics: one failed append, PostgreSQL down.
            var metrics = await client.GetStringAsync("/metrics");
            Assert.Contains("\nadctr_journal_append_failures_total 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("\nadctr_journal_up 0\n", metrics, StringComparison.Ordinal);

            // Statistics are the model's in memory: the 4 acknowledged examples, not the refused 3.
            Assert.Equal(4, await PostgreSqlDurabilityTests.ExamplesAsync(client, "c1"));
        }
        finally
        {
            postgres.Start();
        }

        // Back: the probe (every second) makes the silo ready again, and the refused batch, sent again, is learned once.
        await PostgreSqlDurabilityTests.ReadyAsync(client, RecoveryTimeout);
        Assert.Equal(HttpStatusCode.OK, (await PostgreSqlDurabilityTests.PostAsync(client, PostgreSqlDurabilityTests.Lines(("c1", 3)), "k2")).StatusCode);
        Assert.Equal(7, await PostgreSqlDurabilityTests.ExamplesAsync(client, "c1"));
        Assert.Equal(7L, await PostgreSqlDurabilityTests.ScalarAsync(connectionString, "SELECT last_seq FROM adctr_journal_head WHERE campaign = 'c1'"));
    }

    private static async Task<double> PredictAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/predict", new StringContent(PredictBody, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return root.RootElement.GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
    }
}
