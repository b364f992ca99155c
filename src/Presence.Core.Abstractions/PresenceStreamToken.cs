namespace Presence;

/// <summary>
/// A position in the presence stream, opaque to the host: put <see cref="ToString"/> into your own sync token and
/// give it back with <see cref="Parse"/> on the next request. <see langword="default"/> means "from nothing": the answer is a
/// full snapshot of what the viewer may see. A token from another engine instance, from before a restart, or older than
/// the retained window is not an error: it also gets a full snapshot.
/// </summary>
public readonly struct PresenceStreamToken : IEquatable<PresenceStreamToken>
{
    private readonly string? _value;

    private PresenceStreamToken(string value) => _value = value;

    /// <summary>Gets the token that asks for everything (a full snapshot), as an initial sync does.</summary>
    public static PresenceStreamToken None => default;

    /// <summary>Gets a value indicating whether this is <see cref="None"/>.</summary>
    public bool IsNone => _value is null;

    /// <summary>Reads a token written by <see cref="ToString"/>.</summary>
    /// <param name="value">The text; <see langword="null"/> or empty gives <see cref="None"/>.</param>
    /// <returns>The token.</returns>
    /// <exception cref="FormatException">The text is not a token this library wrote (over 256 characters, or characters outside printable ASCII).</exception>
    public static PresenceStreamToken Parse(string? value) =>
        TryParse(value, out var token) ? token : throw new FormatException("Not a presence stream token.");

    /// <summary>Reads a token written by <see cref="ToString"/>.</summary>
    /// <param name="value">The text; <see langword="null"/> or empty gives <see cref="None"/>.</param>
    /// <param name="token">The token when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when the text can be a token.</returns>
    public static bool TryParse(string? value, out PresenceStreamToken token)
    {
        token = default;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        if (value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        token = new PresenceStreamToken(value);
        return true;
    }

    /// <summary>The longest token text <see cref="Parse"/> accepts.</summary>
    public const int MaxLength = 256;

    /// <summary>Gets the token's text; empty for <see cref="None"/>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => _value ?? string.Empty;

    /// <inheritdoc/>
    public bool Equals(PresenceStreamToken other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PresenceStreamToken other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <summary>Compares two tokens.</summary>
    /// <param name="left">One token.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they are the same.</returns>
    public static bool operator ==(PresenceStreamToken left, PresenceStreamToken right) => left.Equals(right);

    /// <summary>Compares two tokens.</summary>
    /// <param name="left">One token.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(PresenceStreamToken left, PresenceStreamToken right) => !left.Equals(right);
}
