using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;
using Npgsql;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>
/// Durability in a cluster (<c>AdCtr:Cluster:Provider=PostgreSql</c>, durability on) with real server processes and a
/// real PostgreSQL on loopback: the example journal, idempotent batches, checkpoints and replay after a SIGKILL.
/// </summary>
public sealed class PostgreSqlDurabilityTests(PostgreSqlServer postgres) : IClassFixture<PostgreSqlServer>
{
    internal static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A server of a durable cluster on <paramref name="connectionString"/>, with Npgsql's connection pool on (the
    /// fixture's strings turn it off for the tests' own connections): a journal append is then one round trip.
    /// </summary>
    internal static string[] DurableClusterArgs(string connectionString, params string[] more) =>
    [
        "--AdCtr:Cluster:Provider=PostgreSql",
        "--AdCtr:Cluster:ConnectionString=" + connectionString + ";Pooling=true",
        .. more,
    ];

    [Fact]
    public async Task Examples_DurableCluster_OneJournalEntryPerCampaignPerBatch_SameKeyJournaledOnce()
    {
        var connectionString = postgres.CreateDatabase();
        using var dir = new TempDirectory();
        await using var server = ServerProcess.Start(dir.Path, DurableClusterArgs(connectionString));
        using var client = new HttpClient { BaseAddress = await server.ListeningAsync(StartTimeout) };
        await ReadyAsync(client, StartTimeout);

        // 5 examples of c1, 3 of c2 in one batch: one entry each, at positions 1..5 and 1..3.
        var body = Lines(("c1", 5), ("c2", 3));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, body, "batch-1")).StatusCode);
        Assert.Equal(
            new[] { "c1:1:5", "c2:1:3" },
            await QueryAsync(connectionString, "SELECT campaign || ':' || first_seq || ':' || n FROM adctr_journal ORDER BY campaign, first_seq"));

        // The same batch again with the same key (an answer the client lost): journaled and learned once.
        using var again = await PostAsync(client, body, "batch-1");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(2L, await ScalarAsync(connectionString, "SELECT count(*) FROM adctr_journal"));
        Assert.Equal(5, await ExamplesAsync(client, "c1"));
        Assert.Equal(3, await ExamplesAsync(client, "c2"));

        // Another key: appended after the first entries.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, Lines(("c1", 2)), "batch-2")).StatusCode);
        Assert.Equal(
            new[] { "c1:1:5", "c1:6:2", "c2:1:3" },
            await QueryAsync(connectionString, "SELECT campaign || ':' || first_seq || ':' || n FROM adctr_journal ORDER BY campaign, first_seq"));
        Assert.Equal(7, await ExamplesAsync(client, "c1"));

        // Metrics: 10 examples committed (the repeated batch appended nothing), PostgreSQL up.
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("\nadctr_journal_appended_examples_total 10\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nadctr_journal_up 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nadctr_journal_append_duration_seconds_count 3\n", metrics, StringComparison.Ordinal);

        // A key longer than 255 characters is the client's error.
        using var tooLong = await PostAsync(client, body, new string('k', 256));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("application/problem+json", tooLong.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Campaign_KilledAfterCheckpoint_NewProcessLoadsCheckpointAndReplaysJournalAfterIt()
    {
        var connectionString = postgres.CreateDatabase();
        using var dir = new TempDirectory();
        var args = DurableClusterArgs(connectionString, "--AdCtr:Cluster:CheckpointEvery=5");
        long clicksBefore;
        await using (var server = ServerProcess.Start(dir.Path, args))
        {
            using var client = new HttpClient { BaseAddress = await server.ListeningAsync(StartTimeout) };
            await ReadyAsync(client, StartTimeout);

            // Batches of 3 examples of c1 (label 1 on the first of each): checkpoints once 5 are learned since the last one,
            // i.e. after positions 6 and 12; positions 13 and 14 stay in the journal only.
            for (var b = 0; b < 4; b++)
            {
                Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, Lines(("c1", 3)), "b" + b)).StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, Lines(("c1", 2)), "b4")).StatusCode);
            Assert.Equal(14, await ExamplesAsync(client, "c1"));
            clicksBefore = await ClicksAsync(client, "c1");
            Assert.Equal(12L, await ScalarAsync(connectionString, "SELECT seq FROM adctr_campaign_state WHERE campaign = 'c1'"));

            // The checkpoint at 12 deleted the entries it covers: only 13..14 are left.
            Assert.Equal(new[] { "13:2" }, await QueryAsync(connectionString, "SELECT first_seq || ':' || n FROM adctr_journal WHERE campaign = 'c1'"));

            // SIGKILL: no deactivation, no last checkpoint.
        }

        // Another cluster id: Orleans would make a silo joining "adctr" first validate connectivity with the killed silo,
        // still Active in the membership table, until that one is declared dead (a minute or more with the defaults). The
        // journal and the checkpoints do not depend on the cluster id: this is the whole store restarted from scratch.
        await using (var server = ServerProcess.Start(dir.Path, [.. args, "--AdCtr:Cluster:ClusterId=adctr-restarted"]))
        {
            using var client = new HttpClient { BaseAddress = await server.ListeningAsync(StartTimeout) };
            await ReadyAsync(client, StartTimeout);

            // A fresh process: the campaign's grain loads the checkpoint (12) and replays 13..14: every example once.
            Assert.Equal(14, await ExamplesAsync(client, "c1"));
            Assert.Equal(clicksBefore, await ClicksAsync(client, "c1"));

            // And learning goes on after the replayed positions.
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, Lines(("c1", 1)), "b5")).StatusCode);
            Assert.Equal(15, await ExamplesAsync(client, "c1"));
        }
    }

    [Fact]
    public async Task TwoSilos_OneStoppedWithSigterm_CheckpointsItsCampaignsAndTheSurvivorHasEveryExampleOnce()
    {
        var connectionString = postgres.CreateDatabase();
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        await using var a = ServerProcess.Start(dirA.Path, DurableClusterArgs(connectionString));
        await using var b = ServerProcess.Start(dirB.Path, DurableClusterArgs(connectionString));
        using var clientA = new HttpClient { BaseAddress = await a.ListeningAsync(StartTimeout) };
        using var clientB = new HttpClient { BaseAddress = await b.ListeningAsync(StartTimeout) };
        await ReadyAsync(clientA, StartTimeout);
        await ReadyAsync(clientB, StartTimeout);

        // 20 campaigns, 3 batches through each silo; the default CheckpointEvery (10,000) writes no checkpoint meanwhile.
        const int Campaigns = 20;
        var campaigns = Enumerable.Range(0, Campaigns).Select(c => ("s" + c.ToString(CultureInfo.InvariantCulture), 2)).ToArray();
        // B posts first, so it makes the first call of each campaign (Orleans places a new activation by its own policy,
        // which weighs the calling silo).
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(clientB, Lines(campaigns), "b" + k)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(clientA, Lines(campaigns), "a" + k)).StatusCode);
        }

        Assert.Equal(0L, await ScalarAsync(connectionString, "SELECT count(*) FROM adctr_campaign_state"));
        using var cluster = JsonDocument.Parse(await clientB.GetStringAsync("/v1/cluster"));
        var onB = cluster.RootElement.GetProperty("silos").EnumerateArray().Single(s => s.GetProperty("isThisSilo").GetBoolean()).GetProperty("activeCampaigns").GetInt32();
        Assert.True(onB > 0, "no campaign grain is on B: the test would not hand any over"); // 2^-20 even if placement were a coin toss

        // SIGTERM: B deactivates its grains, each writing a checkpoint at its journal head (which deletes its entries).
        b.Terminate();
        Assert.Equal(0, await b.WaitForExitAsync(StartTimeout));
        // At least B's campaigns; A's may be checkpointed too (seen here: all 20 with 13 on B: A's activations were
        // deactivated as well when B left; why, in Orleans' directory, was not looked into).
        var checkpointed = await ScalarAsync(connectionString,
            "SELECT count(*) FROM adctr_campaign_state s JOIN adctr_journal_head h USING (campaign) WHERE s.seq = h.last_seq");
        Assert.InRange(checkpointed, onB, Campaigns);

        // A has every campaign's 12 examples once: B's from their checkpoints, its own from memory.
        for (var c = 0; c < Campaigns; c++)
        {
            Assert.Equal(12, await ExamplesAsync(clientA, "s" + c.ToString(CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>NDJSON lines: per (campaign, count) that many examples, the first of each campaign a click.</summary>
    internal static string Lines(params (string Campaign, int Count)[] campaigns)
    {
        var sb = new StringBuilder();
        foreach (var (campaign, count) in campaigns)
        {
            for (var i = 0; i < count; i++)
            {
                sb.Append("{\"context\":{\"user_age\":\"25-34\",\"device\":\"d").Append(i % 3).Append("\"},\"adId\":\"").Append(campaign)
                    .Append("-a1\",\"campaignId\":\"").Append(campaign).Append("\",\"features\":{\"ad_category\":\"travel\"},\"label\":")
                    .Append(i == 0 ? 1 : 0).Append("}\n");
            }
        }

        return sb.ToString();
    }

    internal static async Task<HttpResponseMessage> PostAsync(HttpClient client, string ndjson, string? key, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/examples") { Content = new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await client.SendAsync(request, ct);
    }

    internal static async Task<long> ExamplesAsync(HttpClient client, string campaign)
    {
        using var stats = JsonDocument.Parse(await client.GetStringAsync("/v1/campaigns/" + campaign));
        return stats.RootElement.GetProperty("examples").GetInt64();
    }

    private static async Task<long> ClicksAsync(HttpClient client, string campaign)
    {
        using var stats = JsonDocument.Parse(await client.GetStringAsync("/v1/campaigns/" + campaign));
        return (long)stats.RootElement.GetProperty("clicks").GetDouble();
    }

    internal static Task ReadyAsync(HttpClient client, TimeSpan timeout) =>
        Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync("/health/ready");
                return response.StatusCode == HttpStatusCode.OK ? null : "/health/ready still " + response.StatusCode;
            },
            timeout);

    internal static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<string[]> QueryAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return [.. rows];
    }
}
