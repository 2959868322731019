# FindCUDNN
# ---------
# Locates NVIDIA cuDNN, preferring the copy installed beside the CUDA toolkit.
#
# Hints: CUDNN_ROOT (variable or environment), CUDAToolkit_LIBRARY_DIR / CUDAToolkit_INCLUDE_DIRS
#        (set by find_package(CUDAToolkit)).
# Result variables: CUDNN_FOUND, CUDNN_INCLUDE_DIR, CUDNN_LIBRARY, CUDNN_VERSION
# Imported target:  CUDNN::cudnn

set(_cudnn_hint_roots ${CUDNN_ROOT} $ENV{CUDNN_ROOT} $ENV{CUDA_HOME} $ENV{CUDA_PATH})
if(CUDAToolkit_LIBRARY_ROOT)
  list(APPEND _cudnn_hint_roots "${CUDAToolkit_LIBRARY_ROOT}")
endif()
list(APPEND _cudnn_hint_roots /usr/local/cuda)

find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} ${_cudnn_hint_roots}
  PATH_SUFFIXES include targets/x86_64-linux/include
  PATHS /usr/include /usr/local/include /usr/include/x86_64-linux-gnu)

find_library(CUDNN_LIBRARY cudnn
  HINTS ${CUDAToolkit_LIBRARY_DIR} ${_cudnn_hint_roots}
  PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu targets/x86_64-linux/lib
  PATHS /usr/lib/x86_64-linux-gnu /usr/local/lib)

set(CUDNN_VERSION "")
foreach(_hdr cudnn_version.h cudnn.h)
  if(CUDNN_INCLUDE_DIR AND EXISTS "${CUDNN_INCLUDE_DIR}/${_hdr}" AND NOT CUDNN_VERSION)
    file(STRINGS "${CUDNN_INCLUDE_DIR}/${_hdr}" _cudnn_ver_lines
      REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
    if(_cudnn_ver_lines)
      string(REGEX REPLACE ".*CUDNN_MAJOR +([0-9]+).*" "\\1" _maj "${_cudnn_ver_lines}")
      string(REGEX REPLACE ".*CUDNN_MINOR +([0-9]+).*" "\\1" _min "${_cudnn_ver_lines}")
      string(REGEX REPLACE ".*CUDNN_PATCHLEVEL +([0-9]+).*" "\\1" _pat "${_cudnn_ver_lines}")
      set(CUDNN_VERSION "${_maj}.${_min}.${_pat}")
    endif()
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION)

if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn UNKNOWN IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES
    IMPORTED_LOCATION "${CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()

mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
