/* Unsafe libc calls made into compile errors (after git's banned.h idea). Include last. */
#ifndef MZ_BANNED_H
#define MZ_BANNED_H
#define MZ_BANNED(func) sorry_##func##_is_banned_in_mzoo
#undef strcpy
#define strcpy(x, y) MZ_BANNED(strcpy)
#undef strcat
#define strcat(x, y) MZ_BANNED(strcat)
#undef sprintf
#define sprintf(...) MZ_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MZ_BANNED(vsprintf)
#undef atoi
#define atoi(x) MZ_BANNED(atoi)
#undef gets
#define gets(x) MZ_BANNED(gets)
#endif
