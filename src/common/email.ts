/**
 * Emails are stored and compared trimmed, lower-cased and in Unicode NFC, so a composed and a
 * decomposed "é" (or " Ada@Example.com") are one address. Every email field and
 * BOOTSTRAP_ADMIN_EMAIL go through this before they are checked, and again before storage.
 */
export const normaliseEmail = (email: string): string => email.trim().normalize('NFC').toLowerCase().normalize('NFC');

/**
 * What no email may contain, on every email field and BOOTSTRAP_ADMIN_EMAIL alike: controls (C0,
 * DEL, C1: PostgreSQL text cannot even hold NUL), format characters (zero-width, joiners, BOM, soft
 * hyphen, tags, bidirectional controls: \p{Cf}), every separator (spaces of any width, line and
 * paragraph separators: \p{Z}), every default-ignorable code point (Hangul fillers, combining
 * grapheme joiner, variation selectors, Khmer inherent vowels…) and the braille blank. They let
 * two addresses look alike on screen, or one pass for another, in admin views and emails.
 */
export const UNSAFE_EMAIL_CHARACTER = /[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** The same rule as a whole-string pattern (for class-validator's Matches). */
export const SAFE_EMAIL_TEXT = /^[^\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}\u2800]*$/u;
