using System.Collections.Concurrent;
using AdCtr.Grains.Journal;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Ftrl;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Storage;
using Orleans.TestingHost;
using AdCtr.Server.Tests.Storage;

namespace AdCtr.Grains.Tests;

/// <summary>
/// Campaign grains in cluster mode (a journal set) on a real Orleans silo, with an in-memory journal and checkpoint store
/// in place of PostgreSQL: learning in journal order exactly once, checkpoints, replay after a checkpoint.
/// </summary>
public sealed class CampaignJournalGrainTests(CampaignJournalGrainTests.Fixture fixture) : IClassFixture<CampaignJournalGrainTests.Fixture>
{
    /// <summary>The checkpoint interval of this fixture's grains.</summary>
    private const long CheckpointEvery = 4;

    /// <summary>How long this fixture's grains let a slice that arrived ahead wait (on <see cref="Fixture.Clock"/>).</summary>
    private static readonly TimeSpan GapWait = TimeSpan.FromSeconds(1);

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

        // A third batch journaled and a fourth whose call arrives first: the fourth waits for the third's call; when that
        // does not come within GapWait, the grain reads the third from the journal and learns both, in order.
        var c = Examples.Batch(id, 2, seed: 3, weight: 3f);
        var d = Examples.Batch(id, 2, seed: 4, weight: 4f);
        fixture.Journal.Append(id, c); // 9..10
        fixture.Journal.Append(id, d); // 11..12
        var reads = fixture.Durability.GapReads;
        var waiting = fixture.NextWait(id);
        var late = grain.Learn(new CampaignSlice(d, [0, 1], FirstSeq: 11).AsImmutable());
        Assert.Equal(11, await waiting);
        Assert.False(late.IsCompleted);
        fixture.Clock.Advance(GapWait);
        Assert.Equal(2, await late);
        Assert.Equal(reads + 1, fixture.Durability.GapReads);
        Assert.Equal(2, await grain.Learn(new CampaignSlice(c, [0, 1], FirstSeq: 9).AsImmutable()));
        Assert.Equal(12, (await grain.GetSummary()).Examples);

        // Learning order, by the weights the observer saw: a (1) x5, b (2) x3, c (3) x2, d (4) x2.
        Assert.Equal(
            new[] { 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4 },
            fixture.Observer.Seen.Skip(before).Select(e => (int)e.Weight));
    }

    [Fact]
    public async Task Learn_SliceAhead_WaitsForItsPredecessorsCall_NoJournalRead()
    {
        const string id = "waits";
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);
        await grain.Activate();
        var a = Examples.Batch(id, 3, seed: 21, weight: 1f);
        var b = Examples.Batch(id, 2, seed: 22, weight: 2f);
        var c = Examples.Batch(id, 4, seed: 23, weight: 3f);
        var before = fixture.Observer.Seen.Count;
        var reads = fixture.Durability.GapReads;
        var first = fixture.Journal.Append(id, a);
        fixture.Journal.Append(id, b);
        fixture.Journal.Append(id, c);

        // c, then b arrive ahead of a (as from two other silos whose commits came later): both wait, nothing is learned.
        var waitC = fixture.NextWait(id);
        var callC = grain.Learn(new CampaignSlice(c, [0, 1, 2, 3], first + 5).AsImmutable());
        Assert.Equal(first + 5, await waitC);
        var waitB = fixture.NextWait(id);
        var callB = grain.Learn(new CampaignSlice(b, [0, 1], first + 3).AsImmutable());
        Assert.Equal(first + 3, await waitB);
        Assert.Equal(before, fixture.Observer.Seen.Count);

        // a's call arrives: a, b and c are learned in journal order, every call completes, and the clock never moved.
        Assert.Equal(3, await grain.Learn(new CampaignSlice(a, [0, 1, 2], first).AsImmutable()));
        Assert.Equal(2, await callB);
        Assert.Equal(4, await callC);
        Assert.Equal(reads, fixture.Durability.GapReads);
        Assert.Equal(9, (await grain.GetSummary()).Examples);
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 3, 3, 3, 3 }, fixture.Observer.Seen.Skip(before).Select(e => (int)e.Weight));
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
        Assert.Equal(5, CampaignStateCodec.Decode(atFive).Stats.Examples); // the bytes hold exactly the position stored beside them
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
        var decoded = CampaignJournalCodec.NewBatchFor(payload);
        Assert.Equal(4, CampaignJournalCodec.Decode(payload, decoded));

        // A batch sized for one row of one feature grows to whatever is added: the same bytes as the one sized for them.
        var grown = new ExampleBatch(1, 1, 1);
        CampaignJournalCodec.Decode(payload, grown);
        CampaignJournalCodec.Decode(payload, grown);
        Assert.Equal(8, grown.Count);
        Assert.Equal(CampaignJournalCodec.EncodeAll(decoded), CampaignJournalCodec.Encode(grown, [4, 5, 6, 7]));

        // A batch made from an entry's bytes sends those bytes as they are, until a row is added.
        var fromBytes = ExampleBatch.FromEncoded(payload);
        Assert.Same(payload, fromBytes.Encoded());
        Assert.Equal(CampaignJournalCodec.EncodeAll(decoded), CampaignJournalCodec.EncodeAll(fromBytes));
        fromBytes.Add(batch.GlobalIndices(1), batch.GlobalValues(1), batch.CampaignIndices(1), batch.CampaignValues(1), 1f, 1f, 0, batch.CampaignKey(1), true);
        Assert.NotSame(payload, fromBytes.Encoded());
        Assert.Equal(5, BitConverter.ToInt32(fromBytes.Encoded(), 0));
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

    [Fact]
    public void Serializer_CarriesASliceBetweenSilosAsItsRows()
    {
        // Between silos a batch travels in the journal's encoding (ExampleBatchConverter), only its rows, not its arrays' capacity.
        var batch = Examples.Batch("wire", 7, seed: 31, weight: 1.5f);
        var serializer = fixture.Cluster.ServiceProvider.GetRequiredService<Orleans.Serialization.Serializer>();
        var bytes = serializer.SerializeToArray(new CampaignSlice(batch, [0, 2, 6], 41));
        var copy = serializer.Deserialize<CampaignSlice>(bytes);
        Assert.Equal(41, copy!.FirstSeq);
        Assert.Equal(new[] { 0, 2, 6 }, copy.Rows);
        Assert.Equal(CampaignJournalCodec.EncodeAll(batch), CampaignJournalCodec.EncodeAll(copy.Batch));
        Assert.True(bytes.Length < CampaignJournalCodec.EncodeAll(batch).Length + 64, bytes.Length + " bytes on the wire");
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
        private static readonly ManualTimeProvider SharedClock = new(DateTimeOffset.UnixEpoch);
        private static readonly CampaignDurability SharedDurability = new(SharedJournal, CheckpointEvery, GapWait, SharedClock);

        public TestCluster Cluster { get; private set; } = null!;

        public IGrainFactory Grains => Cluster.GrainFactory;

        public MemoryJournal Journal => SharedJournal;

        public MemoryCheckpoints Checkpoints => SharedCheckpoints;

        /// <summary>The clock of the grains' gap waits: moved by hand only.</summary>
        internal ManualTimeProvider Clock => SharedClock;

        public CampaignDurability Durability => SharedDurability;

        /// <summary>Completes with the first position of the next slice of <paramref name="campaignId"/> that starts waiting.</summary>
        public Task<long> NextWait(string campaignId)
        {
            var next = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            void Handler(string id, long firstSeq)
            {
                if (id == campaignId)
                {
                    SharedDurability.SliceWaiting -= Handler;
                    next.TrySetResult(firstSeq);
                }
            }

            SharedDurability.SliceWaiting += Handler;
            return next.Task;
        }

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
                    (_ => SharedDurability, _ => SharedCheckpoints));
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
            _states[grainId.Key.ToString()!] = (state.Encoded ?? CampaignStateCodec.Encode(state), state.JournalSeq);
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
