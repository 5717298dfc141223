using System.Collections.Concurrent;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// In-process <see cref="IGrainStorage"/> for tests and single-process runs without a data directory. States
/// are stored serialized (not by reference), so a reactivated grain never shares an object with its
/// previous activation.
/// </summary>
public sealed class MemoryGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<GrainId, byte[]> _records = new();
    private readonly IGrainStorageSerializer _serializer;
    private long _reads;
    private long _writes;
    private long _clears;

    public MemoryGrainStorage(IGrainStorageSerializer? serializer = null) =>
        _serializer = serializer ?? new JsonGrainStorageSerializer();

    /// <summary>Number of stored records.</summary>
    public int Count => _records.Count;

    /// <summary>Number of <see cref="ReadStateAsync{T}"/> calls so far.</summary>
    public long Reads => Volatile.Read(ref _reads);

    /// <summary>Number of <see cref="WriteStateAsync{T}"/> calls so far.</summary>
    public long Writes => Volatile.Read(ref _writes);

    /// <summary>Number of <see cref="ClearStateAsync{T}"/> calls so far.</summary>
    public long Clears => Volatile.Read(ref _clears);

    /// <summary>True when a record is stored for <paramref name="grainId"/>.</summary>
    public bool Contains(GrainId grainId) => _records.ContainsKey(grainId);

    public async Task ReadStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        Interlocked.Increment(ref _reads);
        if (!_records.TryGetValue(grainId, out var bytes))
        {
            grainState.RecordExists = false;
            return;
        }

        using var stream = new MemoryStream(bytes, writable: false);
        grainState.State = await _serializer.DeserializeAsync<T>(stream, cancellationToken).ConfigureAwait(false);
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        Interlocked.Increment(ref _writes);
        using var stream = new MemoryStream();
        await _serializer.SerializeAsync(grainState.State, stream, cancellationToken).ConfigureAwait(false);
        _records[grainId] = stream.ToArray();
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        Interlocked.Increment(ref _clears);
        _records.TryRemove(grainId, out _);
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
