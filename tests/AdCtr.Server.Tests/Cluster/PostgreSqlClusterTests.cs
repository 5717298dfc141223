using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;
using Npgsql;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>
/// <c>AdCtr:Cluster:Provider=PostgreSql</c> with real server processes and a real PostgreSQL on loopback: Orleans' ADO.NET
/// membership on the schema the server creates itself, and the start-up errors an operator meets.
/// </summary>
public sealed class PostgreSqlClusterTests(PostgreSqlServer postgres) : IClassFixture<PostgreSqlServer>
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    private static string[] ClusterArgs(string connectionString) =>
    [
        "--AdCtr:Cluster:Provider=PostgreSql",
        "--AdCtr:Cluster:ConnectionString=" + connectionString,
        "--AdCtr:Durability:Enabled=false",
    ];

    [Fact]
    public async Task TwoServers_EmptyDatabase_FormOneClusterWithOneActivationPerCampaign()
    {
        var connectionString = postgres.CreateDatabase();
        using var dir1 = new TempDirectory();
        using var dir2 = new TempDirectory();
        await using var server1 = ServerProcess.Start(dir1.Path, ClusterArgs(connectionString));
        var url1 = await server1.ListeningAsync(StartTimeout);
        // The second silo runs the schema script again on existing tables: this is its idempotence test.
        await using var server2 = ServerProcess.Start(dir2.Path, ClusterArgs(connectionString));
        var url2 = await server2.ListeningAsync(StartTimeout);
        using var client1 = new HttpClient { BaseAddress = url1 };
        using var client2 = new HttpClient { BaseAddress = url2 };
        await PostgreSqlDurabilityTests.ReadyAsync(client1, StartTimeout);
        await PostgreSqlDurabilityTests.ReadyAsync(client2, StartTimeout);

        // Both silos are Active (Orleans' SiloStatus.Active = 3) in the membership table of this cluster.
        await Poll.UntilAsync(
            async () => await ActiveSilosAsync(connectionString) is var active && active >= 2 ? null : active + " active silos in the membership table",
            StartTimeout);
        Assert.Equal(2, await ActiveSilosAsync(connectionString));

        // One example of every campaign through each server: each campaign's single activation (wherever Orleans placed
        // it) has both, and both servers report the same statistics.
        const int Campaigns = 12;
        for (var c = 0; c < Campaigns; c++)
        {
            await PostExampleAsync(client1, "c" + c, label: 1);
            await PostExampleAsync(client2, "c" + c, label: 0);
        }

        for (var c = 0; c < Campaigns; c++)
        {
            foreach (var client in new[] { client1, client2 })
            {
                using var stats = JsonDocument.Parse(await client.GetStringAsync("/v1/campaigns/c" + c));
                Assert.Equal(2, stats.RootElement.GetProperty("examples").GetInt64());
                Assert.Equal(1, stats.RootElement.GetProperty("clicks").GetInt64());
            }
        }

        // GET /v1/cluster from either server: the same two Active silos, each one's campaign grains, summing to the
        // campaigns posted (nothing else activated them, and the idle timeout of 15 min does not pass in this test).
        foreach (var client in new[] { client1, client2 })
        {
            using var cluster = JsonDocument.Parse(await client.GetStringAsync("/v1/cluster"));
            Assert.Equal("PostgreSql", cluster.RootElement.GetProperty("provider").GetString());
            var silos = cluster.RootElement.GetProperty("silos").EnumerateArray().ToList();
            Assert.Equal(2, silos.Count);
            Assert.All(silos, s => Assert.Equal("Active", s.GetProperty("status").GetString()));
            Assert.Single(silos, s => s.GetProperty("isThisSilo").GetBoolean());
            Assert.Equal(Campaigns, silos.Sum(s => s.GetProperty("activeCampaigns").GetInt32()));
        }

        // A prediction of every campaign through server 1: it takes a replica of each campaign active on server 2. Each
        // silo reports its replicas with its global-model exchange (every second), so /v1/cluster on server 2 shows
        // server 1's count: the campaigns active on server 2. Bounded poll: real processes on their own clocks.
        var candidates = string.Join(",", Enumerable.Range(0, Campaigns).Select(c => "{\"adId\":\"c" + c + "-a1\",\"campaignId\":\"c" + c + "\"}"));
        using (var predict = await client1.PostAsync("/v1/predict", new StringContent("{\"context\":{\"device\":\"ios\"},\"candidates\":[" + candidates + "]}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, predict.StatusCode);
        }

        await Poll.UntilAsync(
            async () =>
            {
                using var cluster = JsonDocument.Parse(await client2.GetStringAsync("/v1/cluster"));
                var silos = cluster.RootElement.GetProperty("silos").EnumerateArray().ToList();
                var one = silos.Single(s => !s.GetProperty("isThisSilo").GetBoolean());
                var two = silos.Single(s => s.GetProperty("isThisSilo").GetBoolean());
                var reported = one.GetProperty("replicas");
                return reported.ValueKind == JsonValueKind.Object && reported.GetProperty("replicas").GetInt32() == two.GetProperty("activeCampaigns").GetInt32()
                    ? null
                    : "server 1 reported replicas " + reported + ", server 2 has " + two.GetProperty("activeCampaigns") + " campaigns active";
            },
            StartTimeout);
    }

    [Fact]
    public async Task Start_PostgreSqlUnreachable_OneLineNamingIt_Exit1()
    {
        using var dir = new TempDirectory();
        // Port 1 on loopback: nothing listens there, the connection is refused at once. The password must not be printed.
        await using var server = ServerProcess.Start(dir.Path, ClusterArgs("Host=127.0.0.1;Port=1;Username=adctr;Password=not-printed"));
        Assert.Equal(1, await server.WaitForExitAsync(ExitTimeout));
        var lines = server.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + server.StandardError);
        Assert.StartsWith("AdCtr.Server could not start: PostgreSQL (AdCtr:Cluster:ConnectionString, Host=127.0.0.1;Port=1;", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("not-printed", server.StandardError + server.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CheckpointEveryZero_RefusedWithTheOptionNamed_Exit1()
    {
        using var dir = new TempDirectory();
        await using var server = ServerProcess.Start(dir.Path, "--AdCtr:Cluster:Provider=PostgreSql", "--AdCtr:Cluster:ConnectionString=Host=127.0.0.1;Port=1", "--AdCtr:Cluster:CheckpointEvery=0");
        Assert.Equal(1, await server.WaitForExitAsync(ExitTimeout));
        Assert.Equal(
            "AdCtr.Server could not start: invalid configuration: AdCtr:Cluster: CheckpointEvery, JournalTimeout, GlobalSyncInterval, ProbeTimeout and NumMissedProbesLimit must be positive, LearnRetryTimeout and GapWait not negative",
            server.StandardError.Trim());
    }

    [Fact]
    public async Task Start_ReplicaRefreshZero_RefusedWithTheOptionNamed_Exit1()
    {
        using var dir = new TempDirectory();
        await using var server = ServerProcess.Start(dir.Path, "--AdCtr:Cluster:Provider=PostgreSql", "--AdCtr:Cluster:ConnectionString=Host=127.0.0.1;Port=1", "--AdCtr:Cluster:ReplicaRefresh=00:00:00");
        Assert.Equal(1, await server.WaitForExitAsync(ExitTimeout));
        Assert.Equal(
            "AdCtr.Server could not start: invalid configuration: AdCtr:Cluster: ReplicaRefresh and ReplicaDropAfter must be positive, MaxReplicas at least 1",
            server.StandardError.Trim());
    }

    private static async Task<long> ActiveSilosAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM OrleansMembershipTable WHERE DeploymentId = 'adctr' AND Status = 3", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task PostExampleAsync(HttpClient client, string campaign, int label)
    {
        var body = "[{\"context\":{\"user_age\":\"25-34\"},\"adId\":\"" + campaign + "-a1\",\"campaignId\":\"" + campaign
            + "\",\"features\":{\"ad_category\":\"travel\"},\"label\":" + label + "}]";
        using var response = await client.PostAsync("/v1/examples", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
