namespace AdCtr.Grains.Runtime;

/// <summary>The persisted state of one grain, as seen by a storage provider (Orleans' IGrainState&lt;T&gt;).</summary>
public interface IGrainState<T>
{
    /// <summary>The state object.</summary>
    T State { get; set; }

    /// <summary>True when the storage holds a record for the grain (set by read, write and clear).</summary>
    bool RecordExists { get; set; }
}

/// <summary>The default <see cref="IGrainState{T}"/>.</summary>
public sealed class GrainState<T> : IGrainState<T>
{
    public GrainState(T state) => State = state;

    public T State { get; set; }

    public bool RecordExists { get; set; }
}

/// <summary>
/// Grain state persistence, keyed by <see cref="GrainId"/> (Orleans' IGrainStorage without the state name:
/// a grain here has one state). Implementations must be safe for concurrent calls on different grains; the
/// runtime never issues two concurrent calls for the same grain.
/// </summary>
public interface IGrainStorage
{
    /// <summary>
    /// Reads the state of <paramref name="grainId"/> into <paramref name="grainState"/>. When no record exists
    /// the state is left as it is and <see cref="IGrainState{T}.RecordExists"/> is set to false.
    /// </summary>
    Task ReadStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken);

    /// <summary>Writes the state atomically: after a crash either the previous or the new state is read back.</summary>
    Task WriteStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken);

    /// <summary>Deletes the record of the grain.</summary>
    Task ClearStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken);
}

/// <summary>
/// Turns a state object into bytes and back (Orleans' IGrainStorageSerializer, on streams so that large
/// model states need not be held twice in memory).
/// </summary>
public interface IGrainStorageSerializer
{
    ValueTask SerializeAsync<T>(T value, Stream destination, CancellationToken cancellationToken);

    ValueTask<T> DeserializeAsync<T>(Stream source, CancellationToken cancellationToken);
}
