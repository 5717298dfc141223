using System.Diagnostics;
using System.Globalization;
using AdCtr.Grains;
using AdCtr.Grains.Journal;
using AdCtr.Server.Cluster;
using AdCtr.Server.Hosting;
using Xunit.Abstractions;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>The PostgreSQL example journal on its own (no silo): positions, idempotency keys, reads, and its write rate.</summary>
public sealed class PostgreSqlJournalTests(PostgreSqlServer postgres, ITestOutputHelper output) : IClassFixture<PostgreSqlServer>
{
    private const int Campaigns = 60;
    private const int RowsPerCampaign = 5;
    private const int Writers = 4;
    private const int BatchesPerWriter = 50;

    [Fact]
    public async Task Append_FourConcurrentWritersOnTheSameCampaigns_EachCampaignsEntriesAreContiguousAndReadBackInOrder()
    {
        var connectionString = postgres.CreateDatabase();
        await PostgreSqlSchema.EnsureAsync(connectionString, CancellationToken.None);
        await using var journal = new PostgreSqlJournal(connectionString + ";Pooling=true", TimeSpan.FromSeconds(30));
        var (ids, counts, payloads) = Batch(seed: 1);

        // Every writer appends batches touching all 60 campaigns (in one order: the statement sorts nothing itself, the
        // ids arrive sorted, as CtrEngine sends them), so each campaign's head row is contended by all four.
        var clock = Stopwatch.StartNew();
        var heads = new List<Dictionary<string, long>>[Writers];
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            heads[w] = [];
            for (var b = 0; b < BatchesPerWriter; b++)
            {
                heads[w].Add((await journal.AppendAsync("w" + w + "-b" + b, ids, counts, payloads, CancellationToken.None))!);
            }
        })));
        clock.Stop();

        // Each batch took one contiguous range per campaign; over all batches a campaign's ranges tile 1..200*5 exactly.
        const int Total = Writers * BatchesPerWriter * RowsPerCampaign;
        foreach (var id in ids)
        {
            var lasts = heads.SelectMany(h => h).Select(h => h[id]).Order().ToArray();
            Assert.Equal(Enumerable.Range(1, Writers * BatchesPerWriter).Select(k => (long)k * RowsPerCampaign), lasts);
        }

        // Read back: the entries in position order, each decoding to its 5 rows.
        var entries = await journal.ReadAsync("c7", 0, long.MaxValue, CancellationToken.None);
        Assert.Equal(Writers * BatchesPerWriter, entries.Count);
        Assert.Equal(Enumerable.Range(0, entries.Count).Select(k => 1 + ((long)k * RowsPerCampaign)), entries.Select(e => e.FirstSeq));
        var decoded = new ExampleBatch();
        Assert.Equal(RowsPerCampaign, CampaignJournalCodec.Decode(entries[^1].Payload, decoded));
        Assert.Equal(Total, entries[^1].LastSeq);

        // A window of the journal, as a grain catching up reads it: entries starting in (10, 20].
        Assert.Equal(new long[] { 11, 16 }, (await journal.ReadAsync("c7", 10, 20, CancellationToken.None)).Select(e => e.FirstSeq));

        // The same key again: nothing appended (null), the heads unchanged.
        Assert.Null(await journal.AppendAsync("w0-b0", ids, counts, payloads, CancellationToken.None));
        Assert.Equal(Writers * BatchesPerWriter, (await journal.ReadAsync("c7", 0, long.MaxValue, CancellationToken.None)).Count);

        var batches = Writers * BatchesPerWriter;
        var examples = batches * Campaigns * RowsPerCampaign;
        output.WriteLine(string.Format(
            CultureInfo.InvariantCulture,
            "journal: {0} batches of {1} examples ({2} campaigns, {3} bytes per batch) by {4} writers in {5:F2} s: {6:N0} batches/s, {7:N0} examples/s",
            batches,
            Campaigns * RowsPerCampaign,
            Campaigns,
            payloads.Sum(p => p.Length),
            Writers,
            clock.Elapsed.TotalSeconds,
            batches / clock.Elapsed.TotalSeconds,
            examples / clock.Elapsed.TotalSeconds));
    }

    [Fact]
    public async Task Append_PostgreSqlUnreachable_ThrowsJournalUnavailable_AndReportsWhy()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        await using var journal = new PostgreSqlJournal("Host=127.0.0.1;Port=1;Username=postgres;Password=not-printed;Timeout=5", TimeSpan.FromSeconds(5));
        var (ids, counts, payloads) = Batch(seed: 2);
        Assert.Null(journal.Failure);
        var e = await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.AppendAsync("k", ids, counts, payloads, CancellationToken.None));
        Assert.StartsWith("PostgreSQL (Host=127.0.0.1;Port=1;Database=(default)) is unavailable: the batch was not journaled", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("PostgreSQL (Host=127.0.0.1;Port=1;Database=(default)) is unreachable", journal.Failure, StringComparison.Ordinal);
        Assert.DoesNotContain("not-printed", e.Message + journal.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public void PoolLimit_AddedWhenAbsent_KeptWhenTheConnectionStringSetsOne()
    {
        // Npgsql's default (100 per silo) let three silos exceed PostgreSQL's default max_connections (100) when a burst of
        // grain activations read their checkpoints at once ("53300: sorry, too many clients already", seen under load).
        Assert.Contains("Maximum Pool Size=" + PostgreSqlJournal.DefaultMaxPoolSize, PostgreSqlJournal.WithPoolLimit("Host=127.0.0.1;Port=5432"), StringComparison.Ordinal);
        Assert.Equal("Host=127.0.0.1;Max Pool Size=40", PostgreSqlJournal.WithPoolLimit("Host=127.0.0.1;Max Pool Size=40"));
        Assert.Equal("Host=h;maximum pool size=3", PostgreSqlJournal.WithPoolLimit("Host=h;maximum pool size=3"));
    }

    /// <summary>60 campaigns with 5 encoded rows each (30 global and 12 campaign features a row, values from a fixed seed).</summary>
    private static (string[] Ids, int[] Counts, byte[][] Payloads) Batch(int seed)
    {
        var random = new Random(seed);
        var ids = Enumerable.Range(0, Campaigns).Select(c => "c" + c.ToString(CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal).ToArray();
        var payloads = new byte[Campaigns][];
        for (var c = 0; c < Campaigns; c++)
        {
            var batch = new ExampleBatch();
            for (var r = 0; r < RowsPerCampaign; r++)
            {
                var gi = Enumerable.Range(0, 30).Select(_ => random.Next(1 << 22)).ToArray();
                var ci = Enumerable.Range(0, 12).Select(_ => random.Next(1 << 22)).ToArray();
                batch.Add(gi, Enumerable.Repeat(1f, 30).ToArray(), ci, Enumerable.Repeat(1f, 12).ToArray(), random.Next(2), 1f, 1_700_000_000_000 + r, (ulong)c, true);
            }

            payloads[c] = CampaignJournalCodec.Encode(batch, Enumerable.Range(0, RowsPerCampaign).ToArray());
        }

        return (ids, Enumerable.Repeat(RowsPerCampaign, Campaigns).ToArray(), payloads);
    }
}
