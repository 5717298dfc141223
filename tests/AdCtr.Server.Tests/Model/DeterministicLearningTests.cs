using System.Globalization;
using System.Text;
using AdCtr.Grains;
using AdCtr.Server.Durability;
using AdCtr.Server.Storage;
using AdCtr.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace AdCtr.Server.Tests.Model;

/// <summary>
/// Reproducible learning (issue 15): for a given sequence of acknowledged batches the model is the same, bit for bit,
/// whatever the thread timing. Batches are learned in log order, one at a time, each batch's rows grouped by campaign
/// with one writer at a time; so a server posted batches concurrently by several clients ends with the model of a
/// server posted the same batches one at a time in the order its log holds them.
/// </summary>
public sealed class DeterministicLearningTests
{
    private const int Clients = 4;
    private const int BatchesPerClient = 6;
    private const int RowsPerBatch = 150;

    /// <summary>Batch b of client c: rows of the client's three campaigns, every line unique (its timestamp).</summary>
    private static string[][] Batches()
    {
        var random = new Random(42);
        string[] devices = ["mobile", "desktop", "tablet"];
        string[] ages = ["18-24", "25-34", "35-44", "45-54"];
        var batches = new string[Clients * BatchesPerClient][];
        var start = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
        var n = 0;
        for (var b = 0; b < batches.Length; b++)
        {
            var client = b % Clients;
            var lines = new string[RowsPerBatch];
            for (var r = 0; r < lines.Length; r++)
            {
                var campaign = "k" + client + "-" + random.Next(3);
                var device = devices[random.Next(devices.Length)];
                var age = ages[random.Next(ages.Length)];
                var ctr = (device == "mobile" ? 0.08 : 0.03) + (campaign.EndsWith('0') ? 0.05 : 0.0);
                var label = random.NextDouble() < ctr ? 1 : 0;
                var timestamp = start.AddMilliseconds(n++).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                lines[r] = "{\"timestamp\":\"" + timestamp + "\",\"label\":" + label
                    + ",\"campaignId\":\"" + campaign + "\",\"adId\":\"" + campaign + "-a" + random.Next(2) + "\""
                    + ",\"context\":{\"device\":\"" + device + "\",\"user_age\":\"" + age + "\"}}";
            }

            batches[b] = lines;
        }

        return batches;
    }

    private static async Task PostAsync(LoopbackServer server, string[] batch)
    {
        using var response = await server.PostNdjsonAsync("/v1/examples", string.Join('\n', batch));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The batches in the order the server's example log holds them (each batch's records are contiguous).</summary>
    private static List<int> LogOrder(LoopbackServer server, string[][] batches)
    {
        var batchOf = new Dictionary<string, int>();
        for (var b = 0; b < batches.Length; b++)
        {
            foreach (var line in batches[b])
            {
                batchOf.Add(line, b);
            }
        }

        var log = server.Services.GetRequiredService<DurableState>().Log!;
        var order = new List<int>();
        var run = 0;
        foreach (var record in log.ReadFrom(new LogPosition(0)))
        {
            var b = batchOf[Encoding.UTF8.GetString(record.Payload.Span).Trim()];
            if (order.Count == 0 || order[^1] != b)
            {
                if (order.Count > 0)
                {
                    Assert.True(run == RowsPerBatch, "batch " + order[^1] + " is not contiguous in the log: " + run+ " records, then batch " + b);
                }

                Assert.DoesNotContain(b, order);
                order.Add(b);
                run = 0;
            }

            run++;
        }

        Assert.Equal(RowsPerBatch, run);
        return order;
    }

    private static async Task AssertSameModelAsync(LoopbackServer expected, LoopbackServer actual, IEnumerable<string> campaigns)
    {
        var differing = 0;
        for (var i = 0; i < 1 << 18; i++)
        {
            expected.Engine.Global.TryGetState(i, out var z1, out var n1);
            actual.Engine.Global.TryGetState(i, out var z2, out var n2);
            if (BitConverter.SingleToInt32Bits(z1) != BitConverter.SingleToInt32Bits(z2) || BitConverter.SingleToInt32Bits(n1) != BitConverter.SingleToInt32Bits(n2))
            {
                differing++;
            }
        }

        Assert.Equal(0, differing);
        foreach (var id in campaigns)
        {
            var a = CampaignStateCodec.Decode((await expected.Grains.GetGrain<ICampaignGrain>(id).Export()).Value);
            var b = CampaignStateCodec.Decode((await actual.Grains.GetGrain<ICampaignGrain>(id).Export()).Value);
            Assert.Equal(a.Stats.Examples, b.Stats.Examples);
            Assert.Equal(a.Model!.Coordinates, b.Model!.Coordinates);
            var mismatches = 0;
            a.Model.ForEach(ref mismatches, (ref int m, int index, float z, float n) =>
            {
                if (!b.Model.TryGetState(index, out var z2, out var n2) || BitConverter.SingleToInt32Bits(z) != BitConverter.SingleToInt32Bits(z2) || BitConverter.SingleToInt32Bits(n) != BitConverter.SingleToInt32Bits(n2))
                {
                    m++;
                }
            });
            Assert.True(mismatches == 0, "campaign " + id + ": " + mismatches + " coordinates differ");
        }
    }

    private static IEnumerable<string> Campaigns()
    {
        for (var c = 0; c < Clients; c++)
        {
            for (var k = 0; k < 3; k++)
            {
                yield return "k" + c + "-" + k;
            }
        }
    }

    [Fact]
    public async Task ConcurrentClients_ModelEqualsTheSameBatchesPostedOneAtATimeInLogOrder()
    {
        var batches = Batches();
        await using var concurrent = await LoopbackServer.StartAsync();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            for (var b = c; b < batches.Length; b += Clients)
            {
                await PostAsync(concurrent, batches[b]);
            }
        })));

        var order = LogOrder(concurrent, batches);
        Assert.Equal(batches.Length, order.Count);
        await using var sequential = await LoopbackServer.StartAsync();
        foreach (var b in order)
        {
            await PostAsync(sequential, batches[b]);
        }

        await AssertSameModelAsync(concurrent, sequential, Campaigns());

        // A server started on a copy of the log replays the batches as they were acknowledged: the same model again.
        var copy = Directory.CreateTempSubdirectory("adctr-replay-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(concurrent.DataDirectory, "*", SearchOption.AllDirectories))
            {
                if (Path.GetFileName(file) == ExampleLog.LockFileName)
                {
                    continue; // held by the running server
                }

                var target = Path.Combine(copy, Path.GetRelativePath(concurrent.DataDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            await using var replayed = await LoopbackServer.StartAsync("--AdCtr:Storage:Path=" + copy);
            Assert.Equal(batches.Length * RowsPerBatch, replayed.Engine.ExamplesLearned);
            await AssertSameModelAsync(concurrent, replayed, Campaigns());
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public async Task SameBatchesInTwoServers_BitIdenticalModels_AndADifferentBatchOrderGivesAnotherModel()
    {
        var batches = Batches();
        await using var first = await LoopbackServer.StartAsync();
        await using var second = await LoopbackServer.StartAsync();
        foreach (var batch in batches)
        {
            await PostAsync(first, batch);
            await PostAsync(second, batch);
        }

        await AssertSameModelAsync(first, second, Campaigns());

        // The comparison can fail: the same batches in another order leave a different global model.
        await using var reordered = await LoopbackServer.StartAsync();
        foreach (var batch in batches.Reverse())
        {
            await PostAsync(reordered, batch);
        }

        await Assert.ThrowsAsync<Xunit.Sdk.EqualException>(() => AssertSameModelAsync(first, reordered, []));
    }
}
