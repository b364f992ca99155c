namespace Presence;

/// <summary>How <c>MapMatrixPresence</c> maps the presence endpoints.</summary>
public sealed class MatrixPresenceEndpointOptions
{
    /// <summary>The largest client request body read: 1 MiB.</summary>
    public const int MaxClientBodyBytes = 1 << 20;

    /// <summary>The largest federation transaction body read: the codec's document limit, 1 MiB.</summary>
    public const int MaxFederationBodyBytes = MatrixPresenceCodec.MaxDocumentBytes;

    /// <summary>The longest federation transaction ID accepted, in UTF-8 bytes.</summary>
    public const int MaxTransactionIdBytes = 255;

    /// <summary>The default number of accepted status writes per user per window.</summary>
    public const int DefaultStatusWritesPerWindow = 5;

    /// <summary>The default status write window.</summary>
    public static readonly TimeSpan DefaultStatusWriteWindow = TimeSpan.FromSeconds(10);

    /// <summary>The default bytes of transaction IDs remembered per origin.</summary>
    public const int DefaultReplayCacheBytesPerOrigin = 64 * 1024;

    /// <summary>The default bytes of transaction IDs remembered for all origins together.</summary>
    public const int DefaultReplayCacheMaxBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Gets or sets a value indicating whether to map <c>PUT /_matrix/federation/v1/send/{txnId}</c>, which feeds the presence
    /// EDUs of inbound transactions to the engine and notes the traffic. For hosts without their own federation stack; a host
    /// with one calls <c>ReceiveAsync</c> and <c>NoteTraffic</c> from its own handler instead.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool MapFederation { get; set; }

    /// <summary>Gets or sets a value indicating whether the client endpoints are also mapped under the legacy <c>/_matrix/client/r0</c> prefix, which older clients (matrix-nio among them) still call.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool MapLegacyR0Paths { get; set; } = true;

    /// <summary>Gets or sets how many status writes a user may make per <see cref="StatusWriteWindow"/> before 429 <c>M_LIMIT_EXCEEDED</c>; 0 turns the limit off. Only accepted writes count: a refused body uses nothing.</summary>
    /// <value>The default value is 5.</value>
    public int StatusWritesPerWindow { get; set; } = DefaultStatusWritesPerWindow;

    /// <summary>Gets or sets the window of <see cref="StatusWritesPerWindow"/>.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan StatusWriteWindow { get; set; } = DefaultStatusWriteWindow;

    /// <summary>
    /// Gets or sets how many bytes of transaction IDs are remembered per origin, so that a retried transaction is acknowledged
    /// and not applied twice. Each origin has its own budget: another server's flood cannot push this one's IDs out.
    /// </summary>
    /// <value>The default value is 64 KiB.</value>
    public int ReplayCacheBytesPerOrigin { get; set; } = DefaultReplayCacheBytesPerOrigin;

    /// <summary>Gets or sets how many bytes of transaction IDs are remembered for all origins together; past it, the origin heard from least recently is forgotten whole.</summary>
    /// <value>The default value is 8 MiB.</value>
    public int ReplayCacheMaxBytes { get; set; } = DefaultReplayCacheMaxBytes;

    /// <summary>Gets or sets a callback run after an inbound transaction was applied (not for a replay): for the host's metrics or tests.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<ServerName>? TransactionApplied { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(StatusWritesPerWindow, nameof(StatusWritesPerWindow));
        if (StatusWritesPerWindow > 0)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StatusWriteWindow, TimeSpan.Zero, nameof(StatusWriteWindow));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ReplayCacheBytesPerOrigin, 1024, nameof(ReplayCacheBytesPerOrigin));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReplayCacheMaxBytes, ReplayCacheBytesPerOrigin, nameof(ReplayCacheMaxBytes));
    }
}
