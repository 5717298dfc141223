using System.Text.Json;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// The default <see cref="IGrainStorageSerializer"/>: System.Text.Json. Pass options whose
/// <see cref="JsonSerializerOptions.TypeInfoResolver"/> is a source-generated context to avoid reflection.
/// Large numeric states (model weights) should use a binary serializer of their own instead.
/// </summary>
public sealed class JsonGrainStorageSerializer : IGrainStorageSerializer
{
    private readonly JsonSerializerOptions _options;

    public JsonGrainStorageSerializer(JsonSerializerOptions? options = null) =>
        _options = options ?? JsonSerializerOptions.Default;

    public ValueTask SerializeAsync<T>(T value, Stream destination, CancellationToken cancellationToken) =>
        new(JsonSerializer.SerializeAsync(destination, value, _options, cancellationToken));

    public async ValueTask<T> DeserializeAsync<T>(Stream source, CancellationToken cancellationToken)
    {
        var value = await JsonSerializer.DeserializeAsync<T>(source, _options, cancellationToken).ConfigureAwait(false);
        return value ?? throw new InvalidDataException("The stored grain state is null.");
    }
}
