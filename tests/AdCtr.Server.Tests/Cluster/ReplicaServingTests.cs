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
/// Serving from any silo in a real two-process cluster on PostgreSQL (loopback): a prediction on the silo that does not
/// host a campaign's grain answers 200 from a replica of the model, with the probability of the model its grain holds
/// (the explain endpoint reads the live weights through the grain), and follows further learning within the refresh
/// interval. Before replicas, such a prediction answered 503.
/// </summary>
public sealed class ReplicaServingTests(PostgreSqlServer postgres, ITestOutputHelper output) : IClassFixture<PostgreSqlServer>
{
    private const int Campaigns = 8;

    /// <summary>
    /// Predict and explain sum the same weights in different orders (predict: float products summed in a double by
    /// the sparse model's Dot; explain: double products in feature order): about 1e-7 of a logit near 0 at most, so
    /// 1e-6 on a probability.
    /// </summary>
    private const double Tolerance = 1e-6;

    [Fact]
    public async Task Predict_OnEitherSilo_ForEveryCampaign_Answers200WithTheGrainModelsProbability_AndFollowsLearning()
    {
        var connectionString = postgres.CreateDatabase();
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        // No global-model sync: a prediction and the explain that checks it are two requests, and a sync landing between
        // them (a silo takes the other's learning at once) changed the global part of one and not the other (seen once
        // under load: 0.5014 against 0.4582). This test is about the campaign part; GlobalModelSyncTests cover the sync.
        string[] args = [.. DurableClusterArgs(connectionString), "--AdCtr:Cluster:GlobalSyncInterval=1.00:00:00"];
        await using var a = ServerProcess.Start(dirA.Path, args);
        await using var b = ServerProcess.Start(dirB.Path, args);
        using var clientA = new HttpClient { BaseAddress = await a.ListeningAsync(StartTimeout) };
        using var clientB = new HttpClient { BaseAddress = await b.ListeningAsync(StartTimeout) };
        await ReadyAsync(clientA, StartTimeout);
        await ReadyAsync(clientB, StartTimeout);

        // Every campaign learned through B only (A never saw its examples), 300 each: fewer than the 10,000 examples
        // after which a calibrator leaves the identity, so a silo's ctr is its raw model probability.
        for (var i = 0; i < Campaigns; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(clientB, ExampleData.Batch(seed: 7, index: i, size: 300, campaigns: Campaigns), "first-" + i)).StatusCode);
        }

        foreach (var client in new[] { clientA, clientB })
        {
            for (var c = 0; c < Campaigns; c++)
            {
                await AssertServesTheGrainModelAsync(client, c);
            }
        }

        // Each campaign's grain is active on one silo and read from its view there; the other silo holds a replica.
        var replicasA = await ReplicaCountAsync(clientA);
        var replicasB = await ReplicaCountAsync(clientB);
        output.WriteLine("replicas: " + replicasA + " on A, " + replicasB + " on B");
        Assert.Equal(Campaigns, replicasA + replicasB);

        // More learning of every campaign (through A this time): within the refresh interval (1 s) plus a call, every
        // prediction on either silo has the grain's new probability. Bounded poll: real processes on their own clocks.
        for (var i = 0; i < Campaigns; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(clientA, ExampleData.Batch(seed: 8, index: i, size: 300, campaigns: Campaigns), "second-" + i)).StatusCode);
        }

        foreach (var client in new[] { clientA, clientB })
        {
            await Poll.UntilAsync(
                async () =>
                {
                    for (var c = 0; c < Campaigns; c++)
                    {
                        var (predicted, explained) = await PredictAndExplainAsync(client, c);
                        if (Math.Abs(predicted - explained) > Tolerance)
                        {
                            return "c" + c + ": predicted " + predicted + ", grain model " + explained;
                        }
                    }

                    return null;
                },
                TimeSpan.FromSeconds(20));
        }

        // The staleness served is exported: replica ages were observed, none older than a few refresh intervals here.
        var metrics = await clientA.GetStringAsync("/metrics");
        Assert.Contains("# TYPE adctr_replica_age_at_serve_seconds histogram", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE adctr_replica_oldest_age_seconds gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("adctr_replicas " + replicasA.ToString(CultureInfo.InvariantCulture) + "\n", metrics, StringComparison.Ordinal);
        if (replicasA > 0)
        {
            Assert.DoesNotContain("adctr_replica_age_at_serve_seconds_count 0\n", metrics, StringComparison.Ordinal);
        }

        // A campaign never learned anywhere (one with an id of 1,024 bytes, the longest accepted, too): 200 from either
        // silo, with the global model alone; an empty campaign id is a 400, as on a single node.
        foreach (var client in new[] { clientA, clientB })
        {
            using var cold = await client.PostAsync("/v1/predict", new StringContent(
                "{\"context\":{\"user_age\":\"18-24\",\"device\":\"ios\"},\"candidates\":[{\"adId\":\"x-a1\",\"campaignId\":\"never-learned\"},{\"adId\":\"y\",\"campaignId\":\"" + new string('\u00e9', 512) + "\"}]}",
                Encoding.UTF8,
                "application/json"));
            Assert.True(cold.StatusCode == HttpStatusCode.OK, cold.StatusCode + ": " + await cold.Content.ReadAsStringAsync());
            using var empty = await client.PostAsync("/v1/predict", new StringContent(
                "{\"candidates\":[{\"adId\":\"y\",\"campaignId\":\"\"}]}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        }
    }

    /// <summary>A 200 with the probability of the grain's live model (not 503, not the global model alone).</summary>
    private static async Task AssertServesTheGrainModelAsync(HttpClient client, int campaign)
    {
        var (predicted, explained) = await PredictAndExplainAsync(client, campaign);
        Assert.True(Math.Abs(predicted - explained) <= Tolerance, "c" + campaign + " on " + client.BaseAddress + ": predicted " + predicted + ", the grain's model " + explained);
    }

    private static async Task<(double Predicted, double Explained)> PredictAndExplainAsync(HttpClient client, int campaign)
    {
        var body = "{\"context\":{\"user_age\":\"18-24\",\"device\":\"ios\",\"site\":\"s3\"},\"candidates\":[{\"adId\":\"c" + campaign + "-a1\",\"campaignId\":\"c" + campaign + "\"}]}";
        using var predict = await client.PostAsync("/v1/predict", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await predict.Content.ReadAsStringAsync();
        Assert.True(predict.StatusCode == HttpStatusCode.OK, predict.StatusCode + ": " + text);
        var predicted = JsonDocument.Parse(text).RootElement.GetProperty("predictions")[0].GetProperty("ctr").GetDouble();

        using var explain = await client.PostAsync("/v1/explain", new StringContent(body, Encoding.UTF8, "application/json"));
        text = await explain.Content.ReadAsStringAsync();
        Assert.True(explain.StatusCode == HttpStatusCode.OK, explain.StatusCode + ": " + text);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.True(root.GetProperty("campaignModel").GetBoolean());
        Assert.True(root.GetProperty("campaign").EnumerateArray().Any(f => f.GetProperty("weight").GetDouble() != 0), "the campaign part learned nothing: " + text);
        return (predicted, root.GetProperty("ctr").GetDouble());
    }

    private static async Task<int> ReplicaCountAsync(HttpClient client)
    {
        using var cluster = JsonDocument.Parse(await client.GetStringAsync("/v1/cluster"));
        return cluster.RootElement.GetProperty("replicas").GetProperty("count").GetInt32();
    }
}
