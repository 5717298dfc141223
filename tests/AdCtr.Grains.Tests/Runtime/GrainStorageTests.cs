using System.Text;
using AdCtr.Grains.Runtime;

namespace AdCtr.Grains.Tests.Runtime;

public sealed class GrainStorageTests
{
    private static readonly GrainId Id = new("counter", 42);

    [Fact]
    public async Task FileGrainStorage_WriteThenRead_RoundTripsInNewInstance()
    {
        using var temp = new TempDirectory();
        await new FileGrainStorage(temp.Path).WriteStateAsync(Id, State(123), CancellationToken.None);

        var read = State(-1);
        await new FileGrainStorage(temp.Path).ReadStateAsync(Id, read, CancellationToken.None);

        Assert.True(read.RecordExists);
        Assert.Equal(123, read.State.Count);
    }

    [Fact]
    public async Task FileGrainStorage_NoRecord_LeavesStateAndReportsMissing()
    {
        using var temp = new TempDirectory();
        var read = State(-1);
        read.RecordExists = true;

        await new FileGrainStorage(temp.Path).ReadStateAsync(Id, read, CancellationToken.None);

        Assert.False(read.RecordExists);
        Assert.Equal(-1, read.State.Count);
    }

    [Fact]
    public async Task FileGrainStorage_SerializerFailsMidWrite_PreviousStateIntactAndTempRemoved()
    {
        using var temp = new TempDirectory();
        await new FileGrainStorage(temp.Path).WriteStateAsync(Id, State(1), CancellationToken.None);
        var failing = new FileGrainStorage(temp.Path, new FailingSerializer());

        await Assert.ThrowsAsync<IOException>(() => failing.WriteStateAsync(Id, State(2), CancellationToken.None));

        var storage = new FileGrainStorage(temp.Path);
        var read = State(-1);
        await storage.ReadStateAsync(Id, read, CancellationToken.None);
        Assert.Equal(1, read.State.Count);
        Assert.False(File.Exists(storage.GetStatePath(Id) + FileGrainStorage.TempFileSuffix));
    }

    [Fact]
    public async Task FileGrainStorage_TornTempFileLeftByCrash_IgnoredThenReplaced()
    {
        using var temp = new TempDirectory();
        var storage = new FileGrainStorage(temp.Path);
        await storage.WriteStateAsync(Id, State(1), CancellationToken.None);
        // What a crash between "create temp" and "rename" leaves behind: a partial temp file.
        var tempPath = storage.GetStatePath(Id) + FileGrainStorage.TempFileSuffix;
        await File.WriteAllTextAsync(tempPath, "{\"Count\":99", Encoding.UTF8);

        var read = State(-1);
        await new FileGrainStorage(temp.Path).ReadStateAsync(Id, read, CancellationToken.None);
        Assert.Equal(1, read.State.Count);

        await storage.WriteStateAsync(Id, State(2), CancellationToken.None);
        await storage.ReadStateAsync(Id, read, CancellationToken.None);
        Assert.Equal(2, read.State.Count);
        Assert.False(File.Exists(tempPath));
    }

    [Fact]
    public async Task FileGrainStorage_Clear_DeletesRecord()
    {
        using var temp = new TempDirectory();
        var storage = new FileGrainStorage(temp.Path);
        var state = State(5);
        await storage.WriteStateAsync(Id, state, CancellationToken.None);
        Assert.True(state.RecordExists);

        await storage.ClearStateAsync(Id, state, CancellationToken.None);

        Assert.False(state.RecordExists);
        Assert.False(File.Exists(storage.GetStatePath(Id)));
        var read = State(-1);
        await storage.ReadStateAsync(Id, read, CancellationToken.None);
        Assert.False(read.RecordExists);
    }

    [Fact]
    public async Task FileGrainStorage_HostileStringKey_StaysInsideRoot()
    {
        using var temp = new TempDirectory();
        var storage = new FileGrainStorage(temp.Path);
        var id = new GrainId("../type", "../../etc/passwd é");

        await storage.WriteStateAsync(id, State(7), CancellationToken.None);

        var path = storage.GetStatePath(id);
        Assert.StartsWith(temp.Path + Path.DirectorySeparatorChar, path, StringComparison.Ordinal);
        Assert.Equal("s%2E%2E%2F%2E%2E%2Fetc%2Fpasswd%20%C3%A9.state", Path.GetFileName(path));
        Assert.Equal("t%2E%2E%2Ftype", Path.GetFileName(Path.GetDirectoryName(path)));
        Assert.Single(Directory.GetFiles(temp.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task FileGrainStorage_LongAndStringKeys_AreDifferentFiles()
    {
        using var temp = new TempDirectory();
        var storage = new FileGrainStorage(temp.Path);
        await storage.WriteStateAsync(new GrainId("counter", 5), State(1), CancellationToken.None);
        await storage.WriteStateAsync(new GrainId("counter", "5"), State(2), CancellationToken.None);

        var read = State(-1);
        await storage.ReadStateAsync(new GrainId("counter", 5), read, CancellationToken.None);
        Assert.Equal(1, read.State.Count);
        await storage.ReadStateAsync(new GrainId("counter", "5"), read, CancellationToken.None);
        Assert.Equal(2, read.State.Count);
    }

    [Fact]
    public async Task GrainRuntime_OverFileStorage_StopThenNewRuntimeReactivatesSameState()
    {
        using var temp = new TempDirectory();
        await using (var first = new RuntimeFixture(new FileGrainStorage(temp.Path)))
        {
            for (var i = 0; i < 3; i++)
            {
                await RuntimeFixture.IncrementAsync(first.Counter(1));
            }
        }

        await using var second = new RuntimeFixture(new FileGrainStorage(temp.Path));
        Assert.Equal(4, await RuntimeFixture.IncrementAsync(second.Counter(1)));
    }

    [Fact]
    public async Task MemoryGrainStorage_Write_StoresCopyNotReference()
    {
        var storage = new MemoryGrainStorage();
        var state = State(1);
        await storage.WriteStateAsync(Id, state, CancellationToken.None);
        state.State.Count = 2;

        var read = State(-1);
        await storage.ReadStateAsync(Id, read, CancellationToken.None);

        Assert.Equal(1, read.State.Count);
        Assert.NotSame(state.State, read.State);
    }

    [Fact]
    public async Task GrainRuntime_StateWriteFailsAtIdle_ActivationStaysWithItsState()
    {
        var storage = new FlakyStorage();
        var fixture = new RuntimeFixture(storage);
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        storage.FailWrites = true;

        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        Assert.True(grain.IsActive);
        Assert.Equal(1, fixture.Runtime.GetStatistics().DeactivationFailures);
        Assert.Equal(2, await RuntimeFixture.IncrementAsync(grain));

        storage.FailWrites = false;
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
        Assert.Equal(2, await fixture.StoredCountAsync(1));
        await fixture.Runtime.StopAsync();
    }

    [Fact]
    public async Task StopAsync_StateWriteFails_ThrowsAggregateAndKeepsActivation()
    {
        var storage = new FlakyStorage();
        var fixture = new RuntimeFixture(storage);
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        storage.FailWrites = true;

        var error = await Assert.ThrowsAsync<AggregateException>(() => fixture.Runtime.StopAsync());

        Assert.IsType<IOException>(Assert.Single(error.InnerExceptions));
        Assert.True(grain.IsActive);
    }

    private static GrainState<CounterState> State(long count) => new(new CounterState { Count = count });

    /// <summary>Writes a few bytes, then fails: what an I/O error or a crash in the middle of a write does.</summary>
    private sealed class FailingSerializer : IGrainStorageSerializer
    {
        public async ValueTask SerializeAsync<T>(T value, Stream destination, CancellationToken cancellationToken)
        {
            await destination.WriteAsync("{\"Cou"u8.ToArray(), cancellationToken);
            throw new IOException("disk failed on purpose");
        }

        public ValueTask<T> DeserializeAsync<T>(Stream source, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }

    private sealed class FlakyStorage : IGrainStorage
    {
        private readonly MemoryGrainStorage _inner = new();

        public bool FailWrites { get; set; }

        public Task ReadStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            _inner.ReadStateAsync(grainId, grainState, cancellationToken);

        public Task WriteStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            FailWrites ? Task.FromException(new IOException("write failed on purpose")) : _inner.WriteStateAsync(grainId, grainState, cancellationToken);

        public Task ClearStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
            _inner.ClearStateAsync(grainId, grainState, cancellationToken);
    }
}
