using System.Collections.Concurrent;
using AdCtr.Grains.Journal;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Ftrl;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Storage;
using Orleans.TestingHost;

namespace AdCtr.Grains.Tests;

/// <summary>
/// Campaign grains in cluster mode (a journal set) on a real Orleans silo, with an in-memory journal and checkpoint store
/// in place of PostgreSQL: learning in journal order exactly once, checkpoints, replay after a checkpoint.
/// </summary>
public sealed class CampaignJournalGrainTests(CampaignJournalGrainTests.Fixture fixture) : IClassFixture<CampaignJournalGrainTests.Fixture>
{
    /// <summary>The checkpoint interval of this fixture's grains.</summary>
    private const long CheckpointEvery = 4;

    [Fact]
    public async Task Learn_SliceArrivesBeforeItsPredecessor_PredecessorReadFromJournalFirst_LateCallSkipped()
    {
        const string id = "ahead";
        var a = Examples.Batch(id, 5, seed: 1, weight: 1f);
        var b = Examples.Batch(id, 3, seed: 2, weight: 2f);
        fixture.Journal.Append(id, a); // positions 1..5
        fixture.Journal.Append(id, b); // positions 6..8
        var before = fixture.Observer.Seen.Count;
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);

        // The activation replays everything the journal holds (a fresh campaign: no checkpoint) ...
        Assert.Equal(8, (await grain.SyncAndGetSummary()).Examples);

        // ... so both calls, the later one first, are skipped: each example is in the model once.
        Assert.Equal(3, await grain.Learn(new CampaignSlice(b, [0, 1, 2], FirstSeq: 6).AsImmutable()));
        Assert.Equal(5, await grain.Learn(new CampaignSlice(a, [0, 1, 2, 3, 4], FirstSeq: 1).AsImmutable()));
        Assert.Equal(8, (await grain.GetSummary()).Examples);

        // A third batch journaled and a fourth whose call arrives first: the grain reads the third from the journal, in order.
        var c = Examples.Batch(id, 2, seed: 3, weight: 3f);
        var d = Examples.Batch(id, 2, seed: 4, weight: 4f);
        fixture.Journal.Append(id, c); // 9..10
        fixture.Journal.Append(id, d); // 11..12
        Assert.Equal(2, await grain.Learn(new CampaignSlice(d, [0, 1], FirstSeq: 11).AsImmutable()));
        Assert.Equal(2, await grain.Learn(new CampaignSlice(c, [0, 1], FirstSeq: 9).AsImmutable()));
        Assert.Equal(12, (await grain.GetSummary()).Examples);

        // Learning order, by the weights the observer saw: a (1) x5, b (2) x3, c (3) x2, d (4) x2.
        Assert.Equal(
            new[] { 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4 },
            fixture.Observer.Seen.Skip(before).Select(e => (int)e.Weight));
    }

    [Fact]
    public async Task Checkpoint_EveryNExamples_AndActivationReplaysOnlyTheJournalAfterIt()
    {
        const string id = "checkpointed";
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);
        await grain.Activate();

        // 5 examples: 5 >= CheckpointEvery (4) since the last checkpoint: checkpoint at 5. Then 2: none (2 < 4).
        await LearnJournaledAsync(grain, id, Examples.Batch(id, 5, seed: 10));
        Assert.Equal(5, fixture.Checkpoints.SeqOf(id));
        var atFive = fixture.Checkpoints.Bytes(id);
        await LearnJournaledAsync(grain, id, Examples.Batch(id, 2, seed: 11));
        Assert.Equal(5, fixture.Checkpoints.SeqOf(id));
        var summary = await grain.GetSummary();
        Assert.Equal(7, summary.Examples);

        // Deactivation checkpoints at 7.
        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(7, fixture.Checkpoints.SeqOf(id));

        // As if the silo had died before that: the checkpoint at 5 is all that was stored. The next activation loads it
        // and replays 6..7 from the journal: each example once (the same count and clicks; the progressive log loss differs,
        // as the replayed examples are scored by the model of now).
        fixture.Checkpoints.Put(id, atFive, 5);
        var replayed = await grain.GetSummary();
        Assert.Equal(summary.Examples, replayed.Examples);
        Assert.Equal(summary.Clicks, replayed.Clicks);

        // A batch journaled whose learn call never came (its silo died after the commit): the next sync learns it.
        fixture.Journal.Append(id, Examples.Batch(id, 3, seed: 12));
        Assert.Equal(10, (await grain.SyncAndGetSummary()).Examples);
    }

    [Fact]
    public void Codec_RoundTrip_KeepsEveryRowAndRejectsTruncatedBytes()
    {
        var batch = Examples.Batch("codec", 20, seed: 5, weight: 0.5f);
        var rows = new[] { 3, 0, 19, 7 };
        var payload = CampaignJournalCodec.Encode(batch, rows);
        var decoded = new ExampleBatch();
        Assert.Equal(4, CampaignJournalCodec.Decode(payload, decoded));
        for (var r = 0; r < rows.Length; r++)
        {
            var i = rows[r];
            Assert.Equal(batch.GlobalIndices(i).ToArray(), decoded.GlobalIndices(r).ToArray());
            Assert.Equal(batch.GlobalValues(i).ToArray(), decoded.GlobalValues(r).ToArray());
            Assert.Equal(batch.CampaignIndices(i).ToArray(), decoded.CampaignIndices(r).ToArray());
            Assert.Equal(batch.CampaignValues(i).ToArray(), decoded.CampaignValues(r).ToArray());
            Assert.Equal(batch.Label(i), decoded.Label(r));
            Assert.Equal(batch.Weight(i), decoded.Weight(r));
            Assert.Equal(batch.CampaignKey(i), decoded.CampaignKey(r));
            Assert.True(decoded.HasCampaign(r));
        }

        Assert.Throws<InvalidDataException>(() => CampaignJournalCodec.Decode(payload.AsSpan(0, payload.Length - 1), new ExampleBatch()));
        Assert.Throws<InvalidDataException>(() => CampaignJournalCodec.Decode([.. payload, 0], new ExampleBatch()));
    }

    /// <summary>Journals a batch (as the server does before the call), then sends its learn call with the positions taken.</summary>
    private async Task LearnJournaledAsync(ICampaignGrain grain, string id, ExampleBatch batch)
    {
        var first = fixture.Journal.Append(id, batch);
        Assert.Equal(batch.Count, await grain.Learn(new CampaignSlice(batch, [.. Enumerable.Range(0, batch.Count)], first).AsImmutable()));
    }

    /// <summary>A one-silo TestCluster whose campaign grains journal into <see cref="Journal"/> and checkpoint into <see cref="Checkpoints"/>.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private static readonly MemoryJournal SharedJournal = new();
        private static readonly MemoryCheckpoints SharedCheckpoints = new();

        public TestCluster Cluster { get; private set; } = null!;

        public IGrainFactory Grains => Cluster.GrainFactory;

        public MemoryJournal Journal => SharedJournal;

        public MemoryCheckpoints Checkpoints => SharedCheckpoints;

        public RecordingObserver Observer => Cluster.GetSiloServiceProvider(Cluster.Primary!.SiloAddress).GetRequiredService<RecordingObserver>();

        public async Task InitializeAsync()
        {
            Cluster = await TestClusters.StartAsync<SiloConfigurator>(1);
        }

        public async Task DisposeAsync()
        {
            await TestClusters.StopAsync(Cluster);
        }

        private sealed class SiloConfigurator : ISiloConfigurator
        {
            public void Configure(ISiloBuilder siloBuilder)
            {
                siloBuilder.Services.AddSingleton<RecordingObserver>();
                siloBuilder.Services.AddCampaignGrains(
                    _ => new CampaignGrainStorage(Directory.CreateTempSubdirectory("adctr-journal-tests-").FullName, deleteOnDispose: true),
                    sp => new SiloModel(new DenseFtrlModel(CampaignGrainClusterFixture.Bits, CampaignGrainClusterFixture.GlobalParameters), CampaignGrainClusterFixture.CampaignParameters, 1.0, TimeProvider.System)
                    {
                        Observer = sp.GetRequiredService<RecordingObserver>(),
                    },
                    (_ => new CampaignDurability(SharedJournal, CheckpointEvery), _ => SharedCheckpoints));
            }
        }
    }

    /// <summary>An in-memory campaign journal: entries per campaign at consecutive positions.</summary>
    public sealed class MemoryJournal : ICampaignJournal
    {
        private readonly ConcurrentDictionary<string, List<JournalEntry>> _entries = new(StringComparer.Ordinal);

        /// <summary>Appends every row of <paramref name="batch"/> as one entry; returns its first position.</summary>
        public long Append(string campaignId, ExampleBatch batch)
        {
            var list = _entries.GetOrAdd(campaignId, _ => []);
            lock (list)
            {
                var first = list.Count == 0 ? 1 : list[^1].LastSeq + 1;
                list.Add(new JournalEntry(first, batch.Count, CampaignJournalCodec.Encode(batch, [.. Enumerable.Range(0, batch.Count)])));
                return first;
            }
        }

        public Task<IReadOnlyList<JournalEntry>> ReadAsync(string campaignId, long afterSeq, long upToSeq, CancellationToken cancellationToken)
        {
            var list = _entries.GetOrAdd(campaignId, _ => []);
            lock (list)
            {
                return Task.FromResult<IReadOnlyList<JournalEntry>>([.. list.Where(e => e.FirstSeq > afterSeq && e.FirstSeq <= upToSeq)]);
            }
        }
    }

    /// <summary>An in-memory checkpoint store: the compact state and its journal position, per campaign.</summary>
    public sealed class MemoryCheckpoints : IGrainStorage
    {
        private readonly ConcurrentDictionary<string, (byte[] Bytes, long Seq)> _states = new(StringComparer.Ordinal);

        public long SeqOf(string id) => _states.TryGetValue(id, out var s) ? s.Seq : 0;

        public byte[] Bytes(string id) => _states[id].Bytes;

        public void Put(string id, byte[] bytes, long seq) => _states[id] = (bytes, seq);

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (_states.TryGetValue(grainId.Key.ToString()!, out var stored))
            {
                var state = CampaignStateCodec.Decode(stored.Bytes);
                state.JournalSeq = stored.Seq;
                grainState.State = (T)(object)state;
                grainState.RecordExists = true;
            }

            return Task.CompletedTask;
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            var state = (CampaignState)(object)grainState.State!;
            _states[grainId.Key.ToString()!] = (CampaignStateCodec.Encode(state), state.JournalSeq);
            grainState.RecordExists = true;
            return Task.CompletedTask;
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            _states.TryRemove(grainId.Key.ToString()!, out _);
            return Task.CompletedTask;
        }
    }
}
