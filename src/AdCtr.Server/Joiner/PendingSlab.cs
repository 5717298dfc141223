using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdCtr.Learning.Features;

namespace AdCtr.Server.Joiner;

/// <summary>One remembered prediction: blittable (no references), so the GC has nothing to trace per entry.</summary>
internal struct PendingSlot
{
    public const byte ImpressedFlag = 1;
    public const byte ClickedFlag = 2;
    public const byte HasCampaignFlag = 4;
    public const byte OverflowFlag = 8;

    public ulong Id;
    public long ServedMs;
    public double Raw;
    public ulong CampaignKey;
    public int GlobalCount;
    public int CampaignCount;
    public byte Flags;

    public bool Impressed
    {
        readonly get => (Flags & ImpressedFlag) != 0;
        set => Flags = value ? (byte)(Flags | ImpressedFlag) : (byte)(Flags & ~ImpressedFlag);
    }

    public bool Clicked
    {
        readonly get => (Flags & ClickedFlag) != 0;
        set => Flags = value ? (byte)(Flags | ClickedFlag) : (byte)(Flags & ~ClickedFlag);
    }

    public readonly bool HasCampaign => (Flags & HasCampaignFlag) != 0;
}

/// <summary>
/// One shard of the joiner's pending predictions, stored as a slab: chunks of <see cref="PendingSlot"/> structs with
/// flat <c>int[]</c>/<c>float[]</c> arenas holding each slot's encoded features at a fixed stride (the spec's
/// maximum feature counts, <see cref="FeatureEncoder.MaxFeatures"/>), a free list of slot numbers, a
/// <c>Dictionary&lt;ulong, int&gt;</c> from impression id to slot and a ring buffer of slot numbers in serving
/// order. A long-lived store of N entries is thus a few dozen arrays instead of 5N objects. Chunks are added on
/// demand and never move, so an idle server allocates nothing and a slot's data stays where it is.
/// </summary>
/// <remarks>
/// <para>Not thread-safe: the owner locks the slab around every call. The one exception: a slot that has been
/// taken out of the map and the ring (<see cref="RemoveOldest"/>, <see cref="Defer"/>) and not yet
/// <see cref="Release"/>d belongs to its taker, who may read it without the lock.</para>
/// <para>Campaign names are kept once per campaign key with a count of the slots that use it (removed at zero), not
/// per slot. An example whose feature counts exceed the strides (impossible for an example encoded with the spec
/// the strides came from) keeps its features in arrays of its own instead of losing any.</para>
/// </remarks>
internal sealed class PendingSlab
{
    private readonly int _globalStride;
    private readonly int _campaignStride;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
    private readonly Dictionary<ulong, int> _map = [];
    private readonly Dictionary<ulong, CampaignName> _names = [];
    private Chunk[] _chunks = [];
    private int _allocated;
    private int[] _free = [];
    private int _freeCount;
    private int[] _ring = [];
    private int _ringHead;
    private int _ringCount;
    private Deferred[] _deferred = [];
    private int _deferredCount;

    /// <param name="globalStride">Features kept inline per slot for the global part.</param>
    /// <param name="campaignStride">Features kept inline per slot for the campaign part.</param>
    /// <param name="expectedSlots">The shard's bound; chunks are sized from it (8 to 1024 slots, a power of two).</param>
    public PendingSlab(int globalStride, int campaignStride, int expectedSlots)
    {
        _globalStride = Math.Max(1, globalStride);
        _campaignStride = Math.Max(1, campaignStride);
        var chunkSlots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(expectedSlots, 8, 1024));
        _chunkShift = BitOperations.Log2((uint)chunkSlots);
        _chunkMask = chunkSlots - 1;
    }

    /// <summary>Predictions in the map (and the ring), i.e. findable by id.</summary>
    public int Count => _map.Count;

    /// <summary>Slots ever created (live, deferred or free): the slab's size.</summary>
    public int Capacity => _allocated;

    public int DeferredCount => _deferredCount;

    public bool TryFind(ulong id, out int slot) => _map.TryGetValue(id, out slot);

    /// <summary>The slot's fields by reference (valid until the slot is released; chunks never move).</summary>
    public ref PendingSlot Slot(int slot) => ref _chunks[slot >> _chunkShift].Slots[slot & _chunkMask];

    /// <summary>Stores a prediction at the back of the serving order; false (nothing stored) when the id is already there.</summary>
    public bool TryAdd(ulong id, long servedMs, double raw, EncodedExample x, string? campaignName)
    {
        ref var mapped = ref CollectionsMarshal.GetValueRefOrAddDefault(_map, id, out var exists);
        if (exists)
        {
            return false;
        }

        var slot = Allocate();
        mapped = slot;
        var chunk = _chunks[slot >> _chunkShift];
        var local = slot & _chunkMask;
        ref var s = ref chunk.Slots[local];
        s.Id = id;
        s.ServedMs = servedMs;
        s.Raw = raw;
        s.CampaignKey = x.CampaignKey;
        s.GlobalCount = x.Global.Count;
        s.CampaignCount = x.Campaign.Count;
        s.Flags = x.HasCampaign ? PendingSlot.HasCampaignFlag : (byte)0;
        if (x.Global.Count <= _globalStride && x.Campaign.Count <= _campaignStride)
        {
            x.Global.Indices.CopyTo(chunk.GlobalIndices.AsSpan(local * _globalStride, _globalStride));
            x.Global.Values.CopyTo(chunk.GlobalValues.AsSpan(local * _globalStride, _globalStride));
            x.Campaign.Indices.CopyTo(chunk.CampaignIndices.AsSpan(local * _campaignStride, _campaignStride));
            x.Campaign.Values.CopyTo(chunk.CampaignValues.AsSpan(local * _campaignStride, _campaignStride));
        }
        else
        {
            s.Flags |= PendingSlot.OverflowFlag;
            (chunk.Overflows ??= new Overflow?[chunk.Slots.Length])[local] = new Overflow(x.Global.Indices.ToArray(), x.Global.Values.ToArray(), x.Campaign.Indices.ToArray(), x.Campaign.Values.ToArray());
        }

        if (x.HasCampaign)
        {
            ref var name = ref CollectionsMarshal.GetValueRefOrAddDefault(_names, x.CampaignKey, out var known);
            if (!known)
            {
                name.Name = campaignName;
            }

            name.Slots++;
        }

        PushBack(slot);
        return true;
    }

    /// <summary>The slot that was served first among those in the map, if any.</summary>
    public bool TryPeekOldest(out int slot)
    {
        slot = _ringCount > 0 ? _ring[_ringHead] : -1;
        return _ringCount > 0;
    }

    /// <summary>
    /// Takes the oldest slot out of the serving order and the map (the caller must have checked there is one).
    /// The slot stays allocated for the caller until <see cref="Release"/> or <see cref="Defer"/>.
    /// </summary>
    public int RemoveOldest()
    {
        var slot = _ring[_ringHead];
        _ringHead = _ringHead + 1 == _ring.Length ? 0 : _ringHead + 1;
        _ringCount--;
        _map.Remove(Slot(slot).Id);
        return slot;
    }

    /// <summary>Parks a removed slot for the next sweep; <paramref name="sequence"/> orders parked slots across shards.</summary>
    public void Defer(int slot, long sequence)
    {
        if (_deferredCount == _deferred.Length)
        {
            Array.Resize(ref _deferred, Math.Max(8, _deferred.Length * 2));
        }

        _deferred[_deferredCount++] = new Deferred(sequence, slot);
    }

    /// <summary>Hands every parked slot to <paramref name="into"/> (sequence, slot) and forgets them.</summary>
    public void TakeDeferred(List<(long Sequence, int Slot)> into)
    {
        for (var i = 0; i < _deferredCount; i++)
        {
            into.Add((_deferred[i].Sequence, _deferred[i].Slot));
        }

        _deferredCount = 0;
    }

    /// <summary>Returns a removed slot to the free list (dropping its campaign name reference and side features).</summary>
    public void Release(int slot)
    {
        ref var s = ref Slot(slot);
        if (s.HasCampaign)
        {
            ref var name = ref CollectionsMarshal.GetValueRefOrNullRef(_names, s.CampaignKey);
            if (!Unsafe.IsNullRef(ref name) && --name.Slots == 0)
            {
                _names.Remove(s.CampaignKey);
            }
        }

        if ((s.Flags & PendingSlot.OverflowFlag) != 0)
        {
            _chunks[slot >> _chunkShift].Overflows![slot & _chunkMask] = null;
        }

        s = default;
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, Math.Max(8, _free.Length * 2));
        }

        _free[_freeCount++] = slot;
    }

    /// <summary>The campaign id of the slot's example (null without a campaign). Under the lock only.</summary>
    public string? CampaignNameOf(int slot)
    {
        ref var s = ref Slot(slot);
        return s.HasCampaign && _names.TryGetValue(s.CampaignKey, out var name) ? name.Name : null;
    }

    public ReadOnlySpan<int> GlobalIndices(int slot)
    {
        var chunk = _chunks[slot >> _chunkShift];
        var local = slot & _chunkMask;
        ref var s = ref chunk.Slots[local];
        return (s.Flags & PendingSlot.OverflowFlag) != 0 ? chunk.Overflows![local]!.GlobalIndices : chunk.GlobalIndices.AsSpan(local * _globalStride, s.GlobalCount);
    }

    public ReadOnlySpan<float> GlobalValues(int slot)
    {
        var chunk = _chunks[slot >> _chunkShift];
        var local = slot & _chunkMask;
        ref var s = ref chunk.Slots[local];
        return (s.Flags & PendingSlot.OverflowFlag) != 0 ? chunk.Overflows![local]!.GlobalValues : chunk.GlobalValues.AsSpan(local * _globalStride, s.GlobalCount);
    }

    public ReadOnlySpan<int> CampaignIndices(int slot)
    {
        var chunk = _chunks[slot >> _chunkShift];
        var local = slot & _chunkMask;
        ref var s = ref chunk.Slots[local];
        return (s.Flags & PendingSlot.OverflowFlag) != 0 ? chunk.Overflows![local]!.CampaignIndices : chunk.CampaignIndices.AsSpan(local * _campaignStride, s.CampaignCount);
    }

    public ReadOnlySpan<float> CampaignValues(int slot)
    {
        var chunk = _chunks[slot >> _chunkShift];
        var local = slot & _chunkMask;
        ref var s = ref chunk.Slots[local];
        return (s.Flags & PendingSlot.OverflowFlag) != 0 ? chunk.Overflows![local]!.CampaignValues : chunk.CampaignValues.AsSpan(local * _campaignStride, s.CampaignCount);
    }

    /// <summary>Writes the slot's example into <paramref name="x"/> (cleared first).</summary>
    public void CopyTo(int slot, EncodedExample x)
    {
        ref var s = ref Slot(slot);
        x.Clear();
        x.HasCampaign = s.HasCampaign;
        x.CampaignKey = s.CampaignKey;
        var gi = GlobalIndices(slot);
        var gv = GlobalValues(slot);
        for (var k = 0; k < gi.Length; k++)
        {
            x.Global.Add(gi[k], gv[k]);
        }

        var ci = CampaignIndices(slot);
        var cv = CampaignValues(slot);
        for (var k = 0; k < ci.Length; k++)
        {
            x.Campaign.Add(ci[k], cv[k]);
        }
    }

    private int Allocate()
    {
        if (_freeCount > 0)
        {
            return _free[--_freeCount];
        }

        if (_allocated == _chunks.Length << _chunkShift)
        {
            var chunks = new Chunk[_chunks.Length + 1];
            _chunks.CopyTo(chunks, 0);
            chunks[^1] = new Chunk(_chunkMask + 1, _globalStride, _campaignStride);
            _chunks = chunks; // readers without the lock see the old array or this one: both hold their chunk
        }

        return _allocated++;
    }

    private void PushBack(int slot)
    {
        if (_ringCount == _ring.Length)
        {
            // Grow by doubling, unwrapping the ring into the new array.
            var ring = new int[Math.Max(8, _ring.Length * 2)];
            for (var i = 0; i < _ringCount; i++)
            {
                ring[i] = _ring[(_ringHead + i) % _ring.Length];
            }

            _ring = ring;
            _ringHead = 0;
        }

        var tail = _ringHead + _ringCount;
        _ring[tail >= _ring.Length ? tail - _ring.Length : tail] = slot;
        _ringCount++;
    }

    private readonly record struct Deferred(long Sequence, int Slot);

    private struct CampaignName
    {
        public string? Name;
        public int Slots;
    }

    private sealed record Overflow(int[] GlobalIndices, float[] GlobalValues, int[] CampaignIndices, float[] CampaignValues);

    private sealed class Chunk(int slots, int globalStride, int campaignStride)
    {
        public PendingSlot[] Slots { get; } = new PendingSlot[slots];

        public int[] GlobalIndices { get; } = new int[slots * globalStride];

        public float[] GlobalValues { get; } = new float[slots * globalStride];

        public int[] CampaignIndices { get; } = new int[slots * campaignStride];

        public float[] CampaignValues { get; } = new float[slots * campaignStride];

        /// <summary>Features of slots beyond the strides (null until the first such slot).</summary>
        public Overflow?[]? Overflows { get; set; }
    }
}
